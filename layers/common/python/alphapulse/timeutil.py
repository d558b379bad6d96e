"""ISO 8601 UTC times: the API's only time format."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already.

    ValueError (a 422 where pydantic validates) when the UTC time falls outside year 1-9999.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc


def iso(moment: datetime) -> str:
    """`2026-11-24T02:30:00.123456Z`: fixed width (years zero-padded), so stored strings sort in time order."""
    utc = to_utc(moment)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def parse_iso(text: str) -> datetime:
    """An ISO 8601 string with `Z` or an offset, as a UTC datetime (ValueError otherwise)."""
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))

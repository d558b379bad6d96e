"""Times: ISO 8601 UTC (the API's only time format), the stored fixed-width form, and time windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


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


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A timezone-aware time, normalised to UTC (serialised as ISO 8601 with `Z`)."""

# Stored times are sort keys: fixed-width ISO strings exist from year 1000 on.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TimeRange:
    """The `start_time` and `end_time` a caller gave (None where left to the route's default)."""

    start: datetime | None = None
    end: datetime | None = None

    def resolve(self, *, default_span: timedelta, now: datetime) -> tuple[datetime, datetime]:
        """The window to read: the given bounds, else `end = now` and `start = end - default_span`.

        A start in the future with no end gives the empty window [start, start] rather than an
        inverted one. Bounds are clamped to the years 1000-9999, where stored ISO strings are
        fixed width (so string order is time order).
        """
        end = self.end if self.end is not None else max(now, self.start) if self.start is not None else now
        end = min(max(end, EARLIEST), LATEST)
        start = self.start if self.start is not None else end - min(default_span, end - EARLIEST)
        start = min(max(start, EARLIEST), end)
        return start, end

    def fingerprint(self) -> dict[str, str | None]:
        """The bounds as given (defaults stay None: a later page must not see a moved "now")."""
        return {
            "start_time": self.start.isoformat() if self.start is not None else None,
            "end_time": self.end.isoformat() if self.end is not None else None,
        }

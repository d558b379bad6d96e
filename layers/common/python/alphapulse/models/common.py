"""Shapes shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, BaseModel

from alphapulse.timeutil import to_utc

T = TypeVar("T")

UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A timezone-aware time, normalised to UTC (serialised as ISO 8601 with `Z`)."""

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500)")]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from a previous page")]


class Page(BaseModel, Generic[T]):
    """A page of a list, newest first; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


# --- time windows of list and history queries ---

# Stored times are sort keys: fixed-width ISO strings exist from year 1000 on.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _query_time_in_utc(moment: datetime | None) -> datetime | None:
    # to_utc's ValueError (an offset at the edge of the calendar has no UTC value) makes a 422.
    return None if moment is None else to_utc(moment)


StartTime = Annotated[
    datetime | None,
    AfterValidator(_query_time_in_utc),
    Query(description="Window start, ISO 8601 (an offset is accepted; without one, UTC). Inclusive."),
]
EndTime = Annotated[
    datetime | None,
    AfterValidator(_query_time_in_utc),
    Query(description="Window end, ISO 8601 (an offset is accepted; without one, UTC). Inclusive."),
]


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


async def time_range(start_time: StartTime = None, end_time: EndTime = None) -> TimeRange:
    """FastAPI dependency: the query's time range; 422 when start_time is after end_time."""
    if start_time is not None and end_time is not None and start_time > end_time:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "start_time"), "msg": "start_time must not be after end_time"}]
        )
    return TimeRange(start_time, end_time)


QueryTimeRange = Annotated[TimeRange, Depends(time_range)]

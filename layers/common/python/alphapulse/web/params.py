"""Query parameters shared by the REST routes: page size, cursor and time windows (FastAPI annotations).

Every time query parameter is annotated `Annotated[datetime | None, IN_UTC, Query(...)]`, so every route
parses times alike: an offset is accepted, a naive time is UTC, and a time with no UTC value (an offset
at the edge of the calendar) is a 422. `checked_range` refuses a start after the end, also with a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from alphapulse.core.times import TimeRange, to_utc

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500)")]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from a previous page")]


def _query_time_in_utc(moment: datetime | None) -> datetime | None:
    # to_utc's ValueError (an offset at the edge of the calendar has no UTC value) makes a 422.
    return None if moment is None else to_utc(moment)


IN_UTC = AfterValidator(_query_time_in_utc)
"""The validator of every time query parameter."""


def checked_range(start_time: datetime | None, end_time: datetime | None) -> TimeRange:
    """The range of two parsed query times; 422 when start_time is after end_time."""
    if start_time is not None and end_time is not None and start_time > end_time:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "start_time"), "msg": "start_time must not be after end_time"}]
        )
    return TimeRange(start_time, end_time)


StartTime = Annotated[
    datetime | None,
    IN_UTC,
    Query(description="Window start, ISO 8601 (an offset is accepted; without one, UTC). Inclusive."),
]
EndTime = Annotated[
    datetime | None,
    IN_UTC,
    Query(description="Window end, ISO 8601 (an offset is accepted; without one, UTC). Inclusive."),
]


async def time_range(start_time: StartTime = None, end_time: EndTime = None) -> TimeRange:
    """FastAPI dependency: the query's time range; 422 when start_time is after end_time."""
    return checked_range(start_time, end_time)


QueryTimeRange = Annotated[TimeRange, Depends(time_range)]

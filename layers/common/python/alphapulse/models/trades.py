"""Executed trades, and the query parameters of their list (the time range is shared with portfolio history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, field_validator

from alphapulse.models.common import UtcDatetime
from alphapulse.timeutil import to_utc

Side = Literal["buy", "sell"]
TradeStatus = Literal["filled", "partially_filled", "canceled"]
OrderType = Literal["market", "limit"]

TRADE_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
TRADE_ID_MAX_LENGTH = 128
SYMBOL_PATTERN = r"^[A-Za-z0-9./_-]+$"
SYMBOL_MAX_LENGTH = 32
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


class Trade(BaseModel):
    trade_id: str = Field(min_length=1, max_length=TRADE_ID_MAX_LENGTH, pattern=TRADE_ID_PATTERN)
    symbol: str = Field(min_length=1, max_length=SYMBOL_MAX_LENGTH, pattern=SYMBOL_PATTERN)
    side: Side
    quantity: float = Field(gt=0, allow_inf_nan=False)
    price: float = Field(ge=0, allow_inf_nan=False)
    fees: float = Field(default=0, ge=0, allow_inf_nan=False)
    status: TradeStatus
    order_type: OrderType
    executed_at: UtcDatetime
    strategy: str | None = Field(default=None, max_length=128)

    @field_validator("executed_at")
    @classmethod
    def _in_sortable_range(cls, executed_at: datetime) -> datetime:
        # Stored times are sort keys: fixed-width ISO strings exist from year 1000 on.
        if executed_at < EARLIEST:
            raise ValueError("executed_at must not be before the year 1000")
        return executed_at


def _query_time_in_utc(moment: datetime | None) -> datetime | None:
    # An offset at the edge of the calendar (`9999-12-31T23:00:00-05:00`) has no UTC value:
    # a ValueError makes that a 422 instead of an OverflowError's 500.
    if moment is None:
        return None
    try:
        return to_utc(moment)
    except OverflowError as exc:
        raise ValueError("time is out of range") from exc


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
TradeSymbol = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=SYMBOL_MAX_LENGTH,
        pattern=SYMBOL_PATTERN,
        description="Only trades of this symbol (exact match)",
    ),
]
TradeSide = Annotated[Side | None, Query(description="Only buys or only sells")]
TradeId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=TRADE_ID_MAX_LENGTH,
        pattern=TRADE_ID_PATTERN,
        description="The trade's id (letters, digits, '.', '_', ':' and '-')",
    ),
]

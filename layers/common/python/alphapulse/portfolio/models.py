"""The portfolio: stored snapshots (the PortfolioUpdated detail), their valuation, and API responses.

Money is computed in Decimal and rounded to cents once per figure, so the figures the API
shows add up exactly: `total_value == cash + positions_value` and `positions_value` is the
sum of the positions' `value`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Annotated, NamedTuple

from pydantic import ConfigDict, Field, field_validator

from alphapulse.core.inputs import Model
from alphapulse.core.keys import SYMBOL_MAX_LENGTH, SYMBOL_PATTERN
from alphapulse.core.times import UtcDatetime

CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.0001")
WEIGHT_PLACES = Decimal("0.000001")
MAX_POSITIONS = 1000  # keeps the latest-snapshot item far below DynamoDB's 400 KB
# Bounds keep every product and sum well inside the Decimal context below and DynamoDB's 38 digits.
MAX_QUANTITY = Decimal(10) ** 12
MAX_PRICE = Decimal(10) ** 12
MAX_CASH = Decimal(10) ** 18
_PRECISION = 60

Quantity = Annotated[Decimal, Field(allow_inf_nan=False, ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
Price = Annotated[Decimal, Field(allow_inf_nan=False, ge=0, le=MAX_PRICE)]
Cash = Annotated[Decimal, Field(allow_inf_nan=False, ge=-MAX_CASH, le=MAX_CASH)]
Ratio = Annotated[float | None, Field(default=None, allow_inf_nan=False)]


class PortfolioMetrics(Model):
    """Risk and performance figures as the trading engine reports them (null when unknown)."""

    sharpe_ratio: Ratio = None
    sortino_ratio: Ratio = None
    max_drawdown: Ratio = None
    volatility: Ratio = None
    return_since_inception: Ratio = None


class SnapshotPosition(Model):
    """One holding as reported; a negative quantity is a short position."""

    symbol: str = Field(min_length=1, max_length=SYMBOL_MAX_LENGTH, pattern=SYMBOL_PATTERN)
    quantity: Quantity
    entry_price: Price
    current_price: Price


class PortfolioSnapshot(Model):
    """The `PortfolioUpdated` event detail (DESIGN section 6), as stored; `tenant_id` is not part of it."""

    model_config = ConfigDict(extra="ignore")

    as_of: UtcDatetime
    cash: Cash
    positions: list[SnapshotPosition] = Field(default_factory=list, max_length=MAX_POSITIONS)
    metrics: PortfolioMetrics | None = None

    @field_validator("positions")
    @classmethod
    def _one_row_per_symbol(cls, positions: list[SnapshotPosition]) -> list[SnapshotPosition]:
        symbols = [position.symbol for position in positions]
        if len(set(symbols)) != len(symbols):
            raise ValueError("each symbol may appear only once in positions")
        return positions


@dataclass(frozen=True)
class PositionValue:
    """A position with its computed figures (money in cents, percentages to 4 places, weight to 6)."""

    position: SnapshotPosition
    value: Decimal
    pnl: Decimal
    pnl_percentage: Decimal
    weight: Decimal


@dataclass(frozen=True)
class Valuation:
    """A snapshot's computed figures; `total_value == cash + positions_value` exactly."""

    cash: Decimal
    positions_value: Decimal
    total_value: Decimal
    positions: tuple[PositionValue, ...]


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def value_snapshot(snapshot: PortfolioSnapshot) -> Valuation:
    """Value, pnl, pnl percentage and weight of every position, and the totals.

    - value = quantity x current_price; pnl = (current_price - entry_price) x quantity
    - pnl_percentage = pnl / |entry_price x quantity| x 100 (0 when that cost is 0); the absolute
      cost keeps a profitable short positive
    - positions_value = sum of the positions' values (each rounded to cents, so the rows add up
      to the total shown); total_value = cash + positions_value
    - weight = value / total_value (0 when the total is 0)
    """
    with localcontext() as context:
        context.prec = _PRECISION
        cash = _cents(snapshot.cash)
        rows = []
        for position in snapshot.positions:
            cost = position.entry_price * position.quantity
            pnl = (position.current_price - position.entry_price) * position.quantity
            percentage = pnl / abs(cost) * 100 if cost else Decimal(0)
            rows.append((position, _cents(position.quantity * position.current_price), _cents(pnl), percentage))
        positions_value = sum((value for _, value, _, _ in rows), Decimal("0.00"))
        total_value = cash + positions_value
        valued = tuple(
            PositionValue(
                position=position,
                value=value,
                pnl=pnl,
                pnl_percentage=percentage.quantize(PERCENT_PLACES, rounding=ROUND_HALF_EVEN),
                weight=(value / total_value).quantize(WEIGHT_PLACES, rounding=ROUND_HALF_EVEN)
                if total_value
                else Decimal(0),
            )
            for position, value, pnl, percentage in rows
        )
    return Valuation(cash=cash, positions_value=positions_value, total_value=total_value, positions=valued)


# Responses


class Position(Model):
    """A position with the figures the backend computes."""

    symbol: str
    quantity: float
    entry_price: float
    current_price: float
    value: float = Field(description="quantity x current_price, in cents")
    pnl: float = Field(description="(current_price - entry_price) x quantity, in cents")
    pnl_percentage: float = Field(description="pnl / |entry_price x quantity| x 100 (0 when the cost is 0)")
    weight: float = Field(description="value / total_value (0 when the total is 0)")


class HistoryRow(NamedTuple):
    """A stored history point as read (ISO time, figures as floats), before it becomes a HistoryPoint."""

    timestamp: str
    total_value: float
    cash: float
    positions_value: float

    def point(self) -> HistoryPoint:
        return HistoryPoint(
            timestamp=self.timestamp, total_value=self.total_value, cash=self.cash, positions_value=self.positions_value
        )


class HistoryPoint(Model):
    """The portfolio's totals at one snapshot."""

    timestamp: UtcDatetime
    total_value: float
    cash: float
    positions_value: float


class PortfolioHistory(Model):
    """Snapshot totals, oldest first."""

    points: list[HistoryPoint]


class Portfolio(Model):
    """The latest snapshot, valued; zeros and `updated_at: null` before the first snapshot."""

    total_value: float = Field(description="cash + positions_value, exactly, in cents")
    cash: float
    positions_value: float = Field(description="The sum of the positions' value")
    updated_at: UtcDatetime | None = Field(description="`as_of` of the latest snapshot; null before the first")
    positions: list[Position]
    metrics: PortfolioMetrics
    history: PortfolioHistory | None = Field(
        default=None, description="Present only when `include_history` is set: the last 30 days, oldest first"
    )

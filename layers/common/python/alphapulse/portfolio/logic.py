"""Portfolio: the latest snapshot valued, and its history downsampled for charts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from alphapulse.core.errors import InvalidQueryError
from alphapulse.core.times import TimeRange, iso, utcnow
from alphapulse.portfolio.models import (
    HistoryRow,
    Portfolio,
    PortfolioHistory,
    PortfolioMetrics,
    PortfolioSnapshot,
    Position,
    value_snapshot,
)

DEFAULT_HISTORY_WINDOW = timedelta(days=30)
MAX_HISTORY_WINDOW = timedelta(days=92)  # the default retention (90 days) and a margin
MAX_HISTORY_POINTS = 100_000
P = TypeVar("P")


class PortfolioStore(Protocol):
    """Where snapshots are read from (`portfolio.repositories.PortfolioRepository`)."""

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None: ...

    def history(self, tenant_id: str, *, start: str, end: str, now: int, limit: int) -> list[HistoryRow]: ...


def get_portfolio(
    store: PortfolioStore,
    tenant_id: str,
    *,
    include_history: bool = False,
    history_points: int = 100,
    now: datetime | None = None,
) -> Portfolio:
    """The latest snapshot, valued (zeros and `updated_at=None` before the first).

    With `include_history`, also the history of the last 30 days, downsampled to `history_points`.
    """
    snapshot = store.latest(tenant_id)
    portfolio = _valued(snapshot) if snapshot is not None else _empty()
    if include_history:
        # Assigned only when asked for: the route leaves unset fields out, so `history` is absent otherwise.
        portfolio.history = get_history(store, tenant_id, max_points=history_points, now=now)
    return portfolio


def current_state(store: PortfolioStore, tenant_id: str) -> dict[str, Any]:
    """What the `portfolio` channel pushes: the body of GET /portfolio without history."""
    return get_portfolio(store, tenant_id).model_dump(mode="json", exclude_unset=True)


def get_history(
    store: PortfolioStore,
    tenant_id: str,
    *,
    requested: TimeRange | None = None,
    max_points: int = 500,
    now: datetime | None = None,
) -> PortfolioHistory:
    """Snapshot totals in the window (default: the last 30 days), oldest first, downsampled to `max_points`.

    422 for a window longer than MAX_HISTORY_WINDOW or holding more than MAX_HISTORY_POINTS snapshots, so
    no request reads unbounded data.
    """
    moment = now or utcnow()
    start, end = (requested or TimeRange()).resolve(default_span=DEFAULT_HISTORY_WINDOW, now=moment)
    if end - start > MAX_HISTORY_WINDOW:
        raise InvalidQueryError("start_time", f"The window may span at most {MAX_HISTORY_WINDOW.days} days")
    rows = store.history(
        tenant_id, start=iso(start), end=iso(end), now=int(moment.timestamp()), limit=MAX_HISTORY_POINTS
    )
    if len(rows) > MAX_HISTORY_POINTS:
        raise InvalidQueryError("start_time", f"More than {MAX_HISTORY_POINTS} snapshots in the window: narrow it")
    kept = downsample(rows, max_points, key=lambda row: row.total_value)
    return PortfolioHistory(points=[row.point() for row in kept])


def downsample(points: Sequence[P], max_points: int, *, key: Callable[[P], float]) -> list[P]:
    """At most `max_points` of `points` (in time order), keeping the first, the last and the extremes.

    The interior is cut into equal runs of points; each run contributes its lowest and highest
    point (by `key`), in their original order. The series' minimum and maximum are each either an
    end point or the extreme of their run, so they always survive. Needs `max_points >= 4`
    (first, last, minimum, maximum); a smaller value is treated as 4.
    """
    if len(points) <= max_points:
        return list(points)
    budget = max(max_points, 4)
    interior = len(points) - 2
    runs = (budget - 2) // 2
    kept = [0]
    for run in range(runs):
        lo = 1 + run * interior // runs
        hi = 1 + (run + 1) * interior // runs
        if lo == hi:
            continue
        low = min(range(lo, hi), key=lambda i: key(points[i]))
        high = max(range(lo, hi), key=lambda i: key(points[i]))
        kept.extend(sorted({low, high}))
    kept.append(len(points) - 1)
    return [points[i] for i in kept]


def _empty() -> Portfolio:
    return Portfolio(
        total_value=0,
        cash=0,
        positions_value=0,
        updated_at=None,
        positions=[],
        metrics=PortfolioMetrics(
            sharpe_ratio=None, sortino_ratio=None, max_drawdown=None, volatility=None, return_since_inception=None
        ),
    )


def _valued(snapshot: PortfolioSnapshot) -> Portfolio:
    valuation = value_snapshot(snapshot)
    metrics = snapshot.metrics or PortfolioMetrics()
    return Portfolio(
        total_value=float(valuation.total_value),
        cash=float(valuation.cash),
        positions_value=float(valuation.positions_value),
        updated_at=snapshot.as_of,
        positions=[
            Position(
                symbol=row.position.symbol,
                quantity=float(row.position.quantity),
                entry_price=float(row.position.entry_price),
                current_price=float(row.position.current_price),
                value=float(row.value),
                pnl=float(row.pnl),
                pnl_percentage=float(row.pnl_percentage),
                weight=float(row.weight),
            )
            for row in valuation.positions
        ],
        # Every field set explicitly, so that the route's exclude_unset keeps the nulls.
        metrics=PortfolioMetrics(**metrics.model_dump()),
    )

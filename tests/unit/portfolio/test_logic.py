"""Portfolio logic against an in-memory store: empty state, history windows and downsampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.core.errors import InvalidQueryError
from alphapulse.core.times import TimeRange, iso
from alphapulse.portfolio import logic as portfolio
from alphapulse.portfolio.models import HistoryRow, PortfolioSnapshot

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class FakePortfolioStore:
    snapshot: PortfolioSnapshot | None = None
    points: list[HistoryRow] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None:
        return self.snapshot

    def history(self, tenant_id: str, *, start: str, end: str, now: int, limit: int) -> list[HistoryRow]:
        self.calls.append({"start": start, "end": end, "now": now})
        return [p for p in self.points if start <= p.timestamp <= end + "~"][: limit + 1]


def points(count: int) -> list[HistoryRow]:
    return [HistoryRow(iso(NOW - timedelta(hours=count - i)), 100 + i % 7, 100, i % 7) for i in range(count)]


def test_get_portfolio_before_any_snapshot_is_zeros_and_nulls() -> None:
    result = portfolio.get_portfolio(FakePortfolioStore(), "default", now=NOW)
    assert result.model_dump(exclude_unset=True) == {
        "total_value": 0,
        "cash": 0,
        "positions_value": 0,
        "updated_at": None,
        "positions": [],
        "metrics": {
            "sharpe_ratio": None,
            "sortino_ratio": None,
            "max_drawdown": None,
            "volatility": None,
            "return_since_inception": None,
        },
    }


def test_get_portfolio_snapshot_without_metrics_keeps_all_metric_nulls() -> None:
    store = FakePortfolioStore(PortfolioSnapshot.model_validate({"as_of": NOW, "cash": "10.5"}))
    result = portfolio.get_portfolio(store, "default", now=NOW).model_dump(exclude_unset=True)
    assert result["updated_at"] == NOW
    assert result["total_value"] == 10.5
    assert set(result["metrics"]) == {
        "sharpe_ratio",
        "sortino_ratio",
        "max_drawdown",
        "volatility",
        "return_since_inception",
    }
    assert "history" not in result


def test_get_portfolio_with_history_reads_last_30_days_downsampled() -> None:
    store = FakePortfolioStore(points=points(300))
    result = portfolio.get_portfolio(store, "default", include_history=True, history_points=20, now=NOW)
    assert store.calls == [{"start": iso(NOW - timedelta(days=30)), "end": iso(NOW), "now": int(NOW.timestamp())}]
    assert result.history is not None
    assert 0 < len(result.history.points) <= 20
    assert "history" in result.model_dump(exclude_unset=True)


def test_get_history_explicit_window_is_passed_through() -> None:
    store = FakePortfolioStore(points=points(48))
    start = NOW - timedelta(hours=10)
    history = portfolio.get_history(
        store, "default", requested=TimeRange(start=start, end=NOW), max_points=500, now=NOW
    )
    assert [p.timestamp for p in history.points] == [NOW - timedelta(hours=h) for h in range(10, 0, -1)]


def test_history_window_longer_than_the_cap_is_a_422() -> None:
    store = FakePortfolioStore()
    longest = TimeRange(NOW - portfolio.MAX_HISTORY_WINDOW, NOW)
    portfolio.get_history(store, "default", requested=longest, now=NOW)
    with pytest.raises(InvalidQueryError) as refused:
        portfolio.get_history(store, "default", requested=TimeRange(longest.start - timedelta(seconds=1), NOW), now=NOW)
    assert refused.value.parameter == "start_time"


def test_history_with_more_snapshots_than_the_cap_is_a_422(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portfolio, "MAX_HISTORY_POINTS", 5)
    assert len(portfolio.get_history(FakePortfolioStore(points=points(5)), "default", now=NOW).points) == 5
    with pytest.raises(InvalidQueryError, match="More than 5 snapshots"):
        portfolio.get_history(FakePortfolioStore(points=points(6)), "default", now=NOW)

"""System logic with an in-memory reader: component statuses, thresholds and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alphapulse.core.errors import DataAccessError
from alphapulse.system import logic as system
from alphapulse.system.models import DatabaseComponent, EventFeedComponent, LatestState, TradingSystemStatus

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def report(at: datetime) -> TradingSystemStatus:
    return TradingSystemStatus.model_validate(
        {
            "cpu": {"usage_percent": 12.5, "cores": 8},
            "memory": {"total_mb": 16384, "used_mb": 8000, "percent": 48.8},
            "disk": {"total_gb": 500, "used_gb": 120.5, "percent": 24.1},
            "process": {"pid": 4242, "memory_mb": 512.3, "threads": 17, "uptime_seconds": 3600},
            "reported_at": at,
        }
    )


class FakeReader:
    def __init__(
        self,
        *,
        status: TradingSystemStatus | None = None,
        portfolio_at: datetime | None = None,
        trade_at: datetime | None = None,
        metric_at: datetime | None = None,
        fail: str | None = None,
        connections: int = 0,
    ) -> None:
        self.status, self.portfolio_at, self.trade_at, self.metric_at, self.fail = (
            status,
            portfolio_at,
            trade_at,
            metric_at,
            fail,
        )
        self.tenants: list[str] = []
        self.connections = connections

    def _maybe_fail(self, name: str) -> None:
        if self.fail == name:
            raise DataAccessError(f"storage unavailable during {name}")

    def latest_state(self, tenant_id: str) -> LatestState:
        self.tenants.append(tenant_id)
        self._maybe_fail("latest_state")
        return LatestState(trading_system=self.status, portfolio_as_of=self.portfolio_at)

    def latest_trade_at(self, tenant_id: str) -> datetime | None:
        self._maybe_fail("latest_trade_at")
        return self.trade_at

    def latest_metric_at(self, tenant_id: str) -> datetime | None:
        self._maybe_fail("latest_metric_at")
        return self.metric_at

    def live_connections(self, tenant_id: str) -> int:
        self._maybe_fail("live_connections")
        return self.connections


def clock(*readings: float) -> object:
    values = iter(readings)
    return lambda: next(values)


def test_system_status_no_data_ok_with_unknown_feed() -> None:
    result = system.system_status(FakeReader(), "default", now=NOW, clock=clock(1.0, 1.004))
    assert result.model_dump() == {
        "status": "ok",
        "components": {
            "database": {"status": "ok", "latency_ms": 4.0},
            "event_feed": {"status": "unknown", "last_event_at": None, "lag_seconds": None},
            "websocket": {"connections": 0},
        },
        "trading_system": None,
    }


def test_system_status_newest_of_all_sources_is_last_event() -> None:
    reader = FakeReader(
        status=report(NOW - timedelta(minutes=3)),
        portfolio_at=NOW - timedelta(minutes=2),
        trade_at=NOW - timedelta(seconds=30),
        metric_at=NOW - timedelta(minutes=1),
    )
    result = system.system_status(reader, "acme", now=NOW)
    assert reader.tenants == ["acme"]
    assert result.components.event_feed == EventFeedComponent(
        status="ok", last_event_at=NOW - timedelta(seconds=30), lag_seconds=30.0
    )
    assert result.trading_system == report(NOW - timedelta(minutes=3))
    assert result.status == "ok"


@pytest.mark.parametrize("source", ["status", "portfolio_at", "trade_at", "metric_at"], ids=lambda name: f"only-{name}")
def test_system_status_each_source_alone_counts(source: str) -> None:
    moment = NOW - timedelta(seconds=10)
    value: object = report(moment) if source == "status" else moment
    result = system.system_status(FakeReader(**{source: value}), "default", now=NOW)  # type: ignore[arg-type]
    assert result.components.event_feed.last_event_at == moment


def test_system_status_stale_feed_degraded() -> None:
    reader = FakeReader(trade_at=NOW - system.EVENT_FEED_STALE_AFTER)
    result = system.system_status(reader, "default", now=NOW)
    assert result.components.event_feed.status == "degraded"
    assert result.components.event_feed.lag_seconds == 300.0
    assert result.status == "degraded"


def test_system_status_feed_just_fresh_ok() -> None:
    reader = FakeReader(trade_at=NOW - system.EVENT_FEED_STALE_AFTER + timedelta(milliseconds=1))
    assert system.system_status(reader, "default", now=NOW).components.event_feed.status == "ok"


def test_system_status_future_event_lag_zero() -> None:
    result = system.system_status(FakeReader(metric_at=NOW + timedelta(minutes=2)), "default", now=NOW)
    assert result.components.event_feed.lag_seconds == 0.0
    assert result.components.event_feed.status == "ok"


def test_system_status_slow_database_degraded() -> None:
    result = system.system_status(FakeReader(), "default", now=NOW, clock=clock(10.0, 11.5))
    assert result.components.database == DatabaseComponent(status="degraded", latency_ms=1500.0)
    assert result.status == "degraded"


def test_system_status_probe_fails_down() -> None:
    result = system.system_status(FakeReader(fail="latest_state"), "default", now=NOW)
    assert result.status == "down"
    assert result.components.database == DatabaseComponent(status="down", latency_ms=None)
    assert result.components.event_feed.status == "unknown"
    assert result.trading_system is None


@pytest.mark.parametrize("failing", ["latest_trade_at", "latest_metric_at"])
def test_system_status_later_read_fails_down_keeps_report(failing: str) -> None:
    reader = FakeReader(status=report(NOW), fail=failing)
    result = system.system_status(reader, "default", now=NOW, clock=clock(0.0, 0.002))
    assert result.status == "down"
    assert result.components.database == DatabaseComponent(status="down", latency_ms=2.0)
    assert result.trading_system == report(NOW)


def test_system_status_reports_the_live_connections() -> None:
    result = system.system_status(FakeReader(connections=3), "default", now=NOW)
    assert result.components.websocket.connections == 3


def test_system_status_connection_count_failure_is_database_down() -> None:
    result = system.system_status(FakeReader(connections=3, fail="live_connections"), "default", now=NOW)
    assert result.status == "down" and result.components.websocket.connections == 0


@pytest.mark.parametrize(
    ("database", "feed", "expected"),
    [
        ("ok", "ok", "ok"),
        ("ok", "unknown", "ok"),
        ("ok", "degraded", "degraded"),
        ("degraded", "ok", "degraded"),
        ("down", "ok", "down"),
        ("down", "unknown", "down"),
    ],
)
def test_overall_status_from_components(database: str, feed: str, expected: str) -> None:
    result = system.overall_status(
        DatabaseComponent(status=database, latency_ms=1.0),  # type: ignore[arg-type]
        EventFeedComponent(status=feed, last_event_at=None, lag_seconds=None),  # type: ignore[arg-type]
    )
    assert result == expected


def test_openapi_document_read_once_from_the_layer() -> None:
    from alphapulse.web.openapi import openapi_document

    openapi_document.cache_clear()
    first = openapi_document()
    assert first.startswith(b"{") and b'"openapi"' in first
    assert openapi_document() is first

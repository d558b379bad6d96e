"""The ingest function on moto: every detail type stored once and pushed once, invalid events refused
with nothing written, and a failed push finished by the retry."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.ingest.logic import trading as ingest
from alphapulse.ingest.logic.pushes import PushInProgressError
from alphapulse.ingest.models.checks import InvalidEventError
from alphapulse.ingest.models.trading import parse_trading_event
from alphapulse.ingest.wiring import IngestDependencies
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.portfolio.repositories import PortfolioRepository
from alphapulse.system.repositories import SystemRepository
from alphapulse.trades.repositories import TradeRepository
from tests.conftest import Function, eventbridge, in_function, items, load_event, template_functions
from tests.fakes import ChangeRecorder, PushRecorder

EVENTS = [
    "ingest-trade-executed",
    "ingest-portfolio-updated",
    "ingest-metrics-reported",
    "ingest-system-status-reported",
]
CHANNELS = {
    "ingest-trade-executed": ("trades", "trade"),
    "ingest-portfolio-updated": ("portfolio", "portfolio"),
    "ingest-metrics-reported": ("metrics", "metrics"),
    "ingest-system-status-reported": ("system", "system"),
}


@pytest.mark.parametrize("name", EVENTS)
def test_event_delivered_three_times_is_stored_once_and_pushed_once(
    name: str, ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    event = load_event(name)
    assert ingest_function(event) == {"pushed": 1}
    stored = items(moto_server, table)
    assert ingest_function(copy.deepcopy(event)) == {"pushed": 0}
    assert ingest_function(copy.deepcopy(event)) == {"pushed": 0}
    assert len(items(moto_server, table)) == len(stored)
    channel, kind = CHANNELS[name]
    assert [(tenant, ch, ty) for tenant, ch, ty, _ in pushes.calls] == [("default", channel, kind)]
    assert not any("push_pending" in item for item in items(moto_server, table)), "a claim was left behind"


def test_trade_push_is_the_rest_trade(ingest_function: Function, pushes: PushRecorder, table: str) -> None:
    ingest_function(load_event("ingest-trade-executed"))
    ((_, _, _, data),) = pushes.calls
    stored = TradeRepository(table).get("default", "T-20260115-000481")
    assert stored is not None and data == stored.model_dump(mode="json")
    assert data["executed_at"] == "2026-01-15T14:30:04.512000Z" and "tenant_id" not in data


def test_a_trade_filled_in_two_reports_is_replaced_and_pushed_twice(
    ingest_function: Function, pushes: PushRecorder, table: str
) -> None:
    # Given a partial fill, then the fill completing (DESIGN section 6: newer and different replaces)
    partial = load_event("ingest-trade-executed")
    partial["detail"].update(status="partially_filled", quantity=40, updated_at="2026-01-15T14:30:05Z")
    filled = copy.deepcopy(partial)
    filled["detail"].update(status="filled", quantity=100, updated_at="2026-01-15T14:31:00Z")
    assert ingest_function(partial) == {"pushed": 1}
    assert ingest_function(filled) == {"pushed": 1}
    # When either is delivered again, in any order
    assert ingest_function(copy.deepcopy(partial)) == {"pushed": 0}
    assert ingest_function(copy.deepcopy(filled)) == {"pushed": 0}
    # Then the trade is stored filled/100, and pushed once per report, in order
    stored = TradeRepository(table).get("default", "T-20260115-000481")
    assert stored is not None and (stored.status, stored.quantity) == ("filled", 100)
    assert [(data["status"], data["quantity"]) for _, _, _, data in pushes.of("trades")] == [
        ("partially_filled", 40),
        ("filled", 100),
    ]
    assert all("updated_at" not in data for _, _, _, data in pushes.of("trades"))


def test_portfolio_push_is_the_rest_portfolio_without_history(ingest_function: Function, pushes: PushRecorder) -> None:
    ingest_function(load_event("ingest-portfolio-updated"))
    ((_, _, _, data),) = pushes.calls
    assert "history" not in data
    assert data["updated_at"] == "2026-01-15T14:30:00Z"
    assert data["total_value"] == pytest.approx(data["cash"] + data["positions_value"])
    aapl = next(p for p in data["positions"] if p["symbol"] == "AAPL")
    assert aapl["value"] == pytest.approx(120 * 228.47) and aapl["pnl"] == pytest.approx(120 * (228.47 - 209.76))
    assert data["metrics"]["sharpe_ratio"] == 1.42


def test_metrics_and_system_push_shapes(ingest_function: Function, pushes: PushRecorder) -> None:
    ingest_function(load_event("ingest-metrics-reported"))
    ingest_function(load_event("ingest-system-status-reported"))
    (metrics, system) = [call[3] for call in pushes.calls]
    assert metrics["timestamp"] == "2026-01-15T14:30:00Z" and metrics["labels"] == {"env": "prod", "desk": "equities"}
    assert metrics["metrics"]["leverage"] == 1.22 and len(metrics["metrics"]) == 8
    assert system["cpu"] == {"usage_percent": 37.5, "cores": 8}
    assert system["reported_at"] == "2026-01-15T14:30:00Z" and set(system) == {
        "cpu",
        "memory",
        "disk",
        "process",
        "reported_at",
    }


def test_tenant_is_kept_apart(ingest_function: Function, pushes: PushRecorder, table: str) -> None:
    event = load_event("ingest-trade-executed")
    acme = copy.deepcopy(event)
    acme["detail"]["tenant_id"] = "acme"
    del event["detail"]["tenant_id"]
    assert ingest_function(event) == {"pushed": 1} and ingest_function(acme) == {"pushed": 1}
    assert [call[0] for call in pushes.calls] == ["default", "acme"]
    assert TradeRepository(table).get("acme", "T-20260115-000481") is not None


@pytest.mark.parametrize(
    "event",
    [
        eventbridge("TradeExecuted", {"trade_id": "x"}),
        eventbridge("OrderPlaced", {"trade_id": "x"}),
        eventbridge(
            "MetricsReported", {"tenant_id": "Acme!", "timestamp": "2026-01-15T14:30:00Z", "metrics": {"a": 1}}
        ),
        eventbridge("MetricsReported", {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"a": 1, "b": float("nan")}}),
        eventbridge("SystemStatusReported", {"timestamp": "2026-01-15T14:30:00Z", "cpu": {"usage_percent": 101}}),
    ],
)
def test_invalid_event_raises_and_writes_nothing(
    event: dict[str, Any], ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    with pytest.raises(InvalidEventError):
        ingest_function(event)
    assert items(moto_server, table) == [] and pushes.calls == []


def test_failed_publish_is_pushed_once_by_the_retry(
    ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    event = load_event("ingest-trade-executed")
    pushes.fail = 1
    with pytest.raises(ConnectionError):
        ingest_function(event)
    assert TradeRepository(table).get("default", "T-20260115-000481") is not None  # stored, not pushed
    assert ingest_function(copy.deepcopy(event)) == {"pushed": 1}  # Lambda's retry
    assert ingest_function(copy.deepcopy(event)) == {"pushed": 0}
    assert len(pushes.calls) == 1
    assert not any("push_pending" in item for item in items(moto_server, table))


@pytest.mark.parametrize("name", EVENTS)
def test_retry_after_failed_publish_pushes_once_for_every_type(
    name: str, ingest_function: Function, pushes: PushRecorder
) -> None:
    pushes.fail = 1
    with pytest.raises(ConnectionError):
        ingest_function(load_event(name))
    assert ingest_function(load_event(name)) == {"pushed": 1}
    assert ingest_function(load_event(name)) == {"pushed": 0}
    assert [call[1] for call in pushes.calls] == [CHANNELS[name][0]]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_redelivery_while_the_first_still_holds_the_push_is_retried_later(table: str) -> None:
    # Given a delivery that stored the trade and crashed before publishing (its claim still held)
    detail = parse_trading_event(load_event("ingest-trade-executed"))
    stores, clock, published, changes = IngestDependencies().stores, Clock(), [], ChangeRecorder()

    def crash(*_: object, push_id: str) -> None:
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        ingest.ingest_trading_event(detail, stores, crash, changed=changes, lease_seconds=10, clock=clock)
    # (the cached trades were invalidated as soon as the trade was written; the portfolio routes show trades too)
    assert changes.calls == [(detail.tenant_id, ("trades",))]
    record = lambda *push, push_id: published.append(push)  # noqa: E731
    # a concurrent redelivery within the lease must not push, nor drop the push: it fails (Lambda retries)
    with pytest.raises(PushInProgressError):
        ingest.ingest_trading_event(detail, stores, record, changed=changes, lease_seconds=10, clock=clock)
    # once the lease is over, the retry takes it over and pushes once
    clock.now += 12
    assert len(ingest.ingest_trading_event(detail, stores, record, changed=changes, lease_seconds=10, clock=clock)) == 1
    assert ingest.ingest_trading_event(detail, stores, record, changed=changes, lease_seconds=10, clock=clock) == []
    assert len(published) == 1
    # a duplicate changes nothing, so invalidates nothing
    assert len(changes.calls) == 2


def test_late_portfolio_snapshot_is_stored_in_history_but_not_pushed(
    ingest_function: Function, pushes: PushRecorder, table: str
) -> None:
    newer = load_event("ingest-portfolio-updated")
    older = copy.deepcopy(newer)
    older["detail"]["as_of"] = "2026-01-15T14:00:00Z"
    older["detail"]["cash"] = 1.0
    assert ingest_function(newer) == {"pushed": 1}
    assert ingest_function(older) == {"pushed": 0}
    latest = PortfolioRepository(table).latest("default")
    assert latest is not None and latest.as_of == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    start, end = "2026-01-15T00:00:00.000000Z", "2026-01-16T00:00:00.000000Z"
    assert len(PortfolioRepository(table).history("default", start=start, end=end, now=0, limit=10)) == 2


def test_late_system_status_is_not_pushed(ingest_function: Function, pushes: PushRecorder, table: str) -> None:
    newer = load_event("ingest-system-status-reported")
    older = copy.deepcopy(newer)
    older["detail"]["timestamp"] = "2026-01-15T14:29:00Z"
    assert ingest_function(newer) == {"pushed": 1}
    assert ingest_function(older) == {"pushed": 0}
    state = SystemRepository(table).latest_state("default")
    assert state.trading_system is not None and state.trading_system.cpu.usage_percent == 37.5


def test_metrics_report_overlapping_an_earlier_one_pushes_only_new_points(
    ingest_function: Function, pushes: PushRecorder, table: str
) -> None:
    detail = {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"a": 1.0, "b": 2.0}, "labels": {"x": "1"}}
    assert ingest_function(eventbridge("MetricsReported", detail)) == {"pushed": 1}
    overlap = {**detail, "metrics": {"b": 9.0, "c": 3.0}}
    assert ingest_function(eventbridge("MetricsReported", overlap)) == {"pushed": 1}
    assert [call[3]["metrics"] for call in pushes.calls] == [{"a": 1.0, "b": 2.0}, {"c": 3.0}]
    latest_b = MetricRepository(table).latest("default", "b")
    assert latest_b is not None and latest_b.value == 2.0  # the first value stored wins


def test_metric_points_and_latest_values_are_written_atomically(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A storage failure in the middle of a report leaves nothing of it behind.
    from alphapulse.aws.dynamodb import DynamoDBClient, DynamoDBError
    from alphapulse.core.errors import DataAccessError

    repo = MetricRepository(table)

    def failing(self: DynamoDBClient, **_: Any) -> None:
        raise DynamoDBError("InternalServerError", "boom", 500, "TransactWriteItems", {})

    monkeypatch.setattr(DynamoDBClient, "transact_write_items", failing, raising=False)
    moment = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    with pytest.raises(DataAccessError):
        repo.put_points("default", moment, {"a": 1.0, "b": 2.0})
    monkeypatch.undo()
    assert repo.latest_all("default") == []
    assert repo.points("default", "a", moment - timedelta(minutes=1), moment, limit=10) == []


def test_trade_that_storage_would_refuse_is_invalid_and_writes_nothing(
    ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    event = load_event("ingest-trade-executed")
    event["detail"]["quantity"] = 1e200  # DynamoDB: "Number overflow"
    with pytest.raises(InvalidEventError, match="quantity"):
        ingest_function(event)
    assert items(moto_server, table) == [] and pushes.calls == []


def test_far_future_event_writes_nothing(ingest_function: Any, table: str, moto_server: str) -> None:
    # Through the handler and the real clock: refused before any write.
    event = load_event("ingest-system-status-reported")
    event["detail"]["timestamp"] = "9999-12-31T23:59:59Z"
    with pytest.raises(InvalidEventError, match="timestamp"):
        ingest_function(event)
    assert items(moto_server, table) == []


def test_each_ingest_function_imports_only_its_own_source() -> None:
    # The ingest function stores trading events and the alert ingest function alerts: neither imports the other's
    # domains and models (about 10 ms of each one's init, docs/decisions.md, issue #15).
    code = (
        "import sys\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.count('.') >= 2 and m.startswith('alphapulse.')}),"
        " sorted(m for m in sys.modules if m.startswith('alphapulse.ingest.')))\n"
    )
    functions = {function.logical_id: function for function in template_functions()}
    trading = in_function(functions["IngestFunction"], code)
    alerts = in_function(functions["AlertIngestFunction"], code)
    domains = ["'metrics'", "'portfolio'", "'system'", "'trades'"]
    assert "'alerts'" not in trading and "alphapulse.ingest.models.alerts" not in trading, trading
    assert all(domain in trading for domain in domains), trading
    assert not any(domain in alerts for domain in domains) and "ingest.models.trading" not in alerts, alerts
    assert "'alerts'" in alerts and "alphapulse.ingest.logic.alerts" in alerts, alerts

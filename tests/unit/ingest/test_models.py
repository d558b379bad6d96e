"""Validation of incoming events (DESIGN section 6): the canned events parse, malformed ones are refused
with a reason that names the problem but not the values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.core.times import iso
from alphapulse.ingest.models.alerts import parse_alert_messages
from alphapulse.ingest.models.checks import MAX_CLOCK_SKEW, InvalidEventError
from alphapulse.ingest.models.trading import (
    MetricsReported,
    PortfolioUpdated,
    SystemStatusReported,
    TradeExecuted,
    parse_trading_event,
)
from tests.conftest import eventbridge, load_event, sns

CANNED = {
    "ingest-trade-executed": TradeExecuted,
    "ingest-portfolio-updated": PortfolioUpdated,
    "ingest-metrics-reported": MetricsReported,
    "ingest-system-status-reported": SystemStatusReported,
    "rules-metrics-reported": MetricsReported,
}


@pytest.mark.parametrize(("name", "model"), CANNED.items())
def test_canned_eventbridge_event_parses_to_its_detail_model(name: str, model: type) -> None:
    assert isinstance(parse_trading_event(load_event(name)), model)


@pytest.mark.parametrize(("name", "status"), [("alert-ingest-firing", "firing"), ("alert-ingest-resolved", "resolved")])
def test_canned_sns_event_parses_to_alert_messages(name: str, status: str) -> None:
    (message,) = parse_alert_messages(load_event(name))
    assert message.status == status and message.dedup_key and message.tenant_id == "default"


def trade(**changes: Any) -> dict[str, Any]:
    detail = copy.deepcopy(load_event("ingest-trade-executed")["detail"])
    detail.update(changes)
    return {key: value for key, value in detail.items() if value is not ...}


def test_missing_tenant_is_default() -> None:
    detail = parse_trading_event(eventbridge("TradeExecuted", trade(tenant_id=...)))
    assert detail.tenant_id == "default"


def refused(event: Any) -> str:
    with pytest.raises(InvalidEventError) as caught:
        parse_trading_event(event)
    return str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trade_id": ...}, "trade_id"),
        ({"quantity": "ten"}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"side": "hold"}, "side"),
        ({"executed_at": "yesterday"}, "executed_at"),
        ({"executed_at": "0999-12-31T00:00:00Z"}, "executed_at"),
        ({"trade_id": "T#1"}, "trade_id"),
        ({"tenant_id": "ACME"}, "tenant_id"),
        ({"tenant_id": "a#b"}, "tenant_id"),
        ({"tenant_id": 7}, "tenant_id"),
    ],
)
def test_invalid_trade_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in refused(eventbridge("TradeExecuted", trade(**changes)))


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf"), 1e200, True, "1.5"])
def test_metric_value_that_cannot_be_stored_is_refused(number: Any) -> None:
    detail = {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"leverage": number}}
    assert "metrics.leverage" in refused(eventbridge("MetricsReported", detail))


@pytest.mark.parametrize(
    "detail",
    [
        {"timestamp": "2026-01-15T14:30:00Z", "metrics": {}},
        {"timestamp": "2026-01-15T14:30:00Z", "metrics": {f"m{i}": 1.0 for i in range(51)}},
        {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"a#b": 1.0}},
        {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"a": 1.0}, "labels": {"k": 1}},
        {"metrics": {"a": 1.0}},
        {"timestamp": "2026-01-15T14:30:00", "metrics": {"a": 1.0}},  # no offset: not a UTC time
    ],
)
def test_malformed_metrics_report_is_refused(detail: dict[str, Any]) -> None:
    refused(eventbridge("MetricsReported", detail))


def test_nan_in_portfolio_and_system_is_refused() -> None:
    portfolio = load_event("ingest-portfolio-updated")
    portfolio["detail"]["positions"][0]["current_price"] = float("nan")
    assert "positions.0.current_price" in refused(portfolio)
    system = load_event("ingest-system-status-reported")
    system["detail"]["cpu"]["usage_percent"] = float("inf")
    assert "cpu.usage_percent" in refused(system)


def test_envelope_problems_are_refused() -> None:
    assert "unknown detail-type" in refused(eventbridge("OrderPlaced", trade()))
    assert "source" in refused(eventbridge("TradeExecuted", trade(), source="someone.else"))
    assert "detail" in refused({"source": "alphapulse.trading", "detail-type": "TradeExecuted"})
    assert "JSON object" in refused(["not", "an", "object"])


def test_huge_event_is_refused_before_parsing() -> None:
    detail = trade(strategy="x" * 300_000)
    assert "bytes" in refused(eventbridge("TradeExecuted", detail))


def test_reason_does_not_echo_values() -> None:
    secret = "sk-live-" + "9" * 20
    reason = refused(eventbridge("TradeExecuted", trade(quantity=secret, tenant_id=secret)))
    assert secret not in reason and "quantity" in reason


FIRING = {"message": "x", "severity": "info", "source": "s", "status": "firing", "timestamp": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        json.dumps({"message": "x", "severity": "warning", "source": "s", "status": "firing"}),  # no timestamp
        json.dumps(
            {"message": "x", "severity": "loud", "source": "s", "status": "firing", "timestamp": "2026-01-01T00:00:00Z"}
        ),
        json.dumps(
            {
                "message": "x",
                "severity": "info",
                "source": "s",
                "status": "resolved",
                "timestamp": "2026-01-01T00:00:00Z",
            }
        ),
        json.dumps({**FIRING, "metric_value": float("nan")}),  # JSON's NaN literal, which json.loads accepts
        json.dumps(
            {
                "tenant_id": "Bad Tenant",
                "message": "x",
                "severity": "info",
                "source": "s",
                "status": "firing",
                "timestamp": "2026-01-01T00:00:00Z",
            }
        ),
    ],
)
def test_invalid_alert_message_is_refused(message: str) -> None:
    with pytest.raises(InvalidEventError, match="record 1"):
        parse_alert_messages(sns(load_event_message("alert-ingest-firing"), message))


def load_event_message(name: str) -> str:
    message: str = load_event(name)["Records"][0]["Sns"]["Message"]
    return message


def test_sns_event_without_records_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="not an SNS event"):
        parse_alert_messages({"Records": []})


def test_reason_does_not_echo_metric_names_or_label_keys() -> None:
    # Keys of `metrics` and `labels` are input: a bad one is not written into the log or the DLQ's error.
    secret = "sk_live_" + "9" * 300
    detail = {"timestamp": "2026-01-15T14:30:00Z", "metrics": {secret: 1.0}, "labels": {"k" + secret: "v"}}
    reason = refused(eventbridge("MetricsReported", detail))
    assert "sk_live_" not in reason and len(reason) < 400
    assert reason.startswith("invalid MetricsReported: metrics.*")


def portfolio(**changes: Any) -> dict[str, Any]:
    detail: dict[str, Any] = copy.deepcopy(load_event("ingest-portfolio-updated")["detail"])
    detail.update(changes)
    return detail


@pytest.mark.parametrize(
    ("detail_type", "detail", "field"),
    [
        ("TradeExecuted", trade(quantity=1e200), "quantity"),
        ("TradeExecuted", trade(price=1e-200), "price"),
        ("TradeExecuted", trade(fees=10**130), "fees"),
        ("PortfolioUpdated", portfolio(metrics={"sharpe_ratio": 1e300}), "metrics.sharpe_ratio"),
        ("PortfolioUpdated", portfolio(cash="1.234567890123456789012345678901234567891"), "cash"),
        (
            "PortfolioUpdated",
            portfolio(positions=[{"symbol": "A", "quantity": 1e-200, "entry_price": 1, "current_price": 1}]),
            "positions.0.quantity",
        ),
    ],
)
def test_number_that_storage_would_refuse_is_an_invalid_event(detail_type: str, detail: Any, field: str) -> None:
    # Otherwise DynamoDB refuses the write: a storage error on every retry rather than the reason.
    assert f"{field}: number cannot be stored" in refused(eventbridge(detail_type, detail))


def test_alert_metric_value_that_storage_would_refuse_is_an_invalid_message() -> None:
    with pytest.raises(InvalidEventError, match="record 0: invalid alert message: metric_value"):
        parse_alert_messages(sns({**FIRING, "metric_value": 1e200}))


def test_storable_extremes_are_accepted() -> None:
    assert isinstance(parse_trading_event(eventbridge("TradeExecuted", trade(quantity=1e125, fees=0))), TradeExecuted)
    (message,) = parse_alert_messages(sns({**FIRING, "metric_value": -1e-130}))
    assert message.metric_value == -1e-130


# Canned events are dated 2026-01-15T14:30Z; these tests pin "now" to then.
NOW = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
SKEW = MAX_CLOCK_SKEW.total_seconds()


def system(**changes: Any) -> dict[str, Any]:
    detail: dict[str, Any] = copy.deepcopy(load_event("ingest-system-status-reported")["detail"])
    detail.update(changes)
    return detail


def metrics(**changes: Any) -> dict[str, Any]:
    return {"timestamp": "2026-01-15T14:30:00Z", "metrics": {"leverage": 1.2}, **changes}


def at(seconds: float) -> str:
    return iso(NOW + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("detail_type", "detail", "field"),
    [
        ("TradeExecuted", trade(executed_at="9999-12-31T23:59:59Z"), "executed_at"),
        ("TradeExecuted", trade(executed_at=at(SKEW + 1)), "executed_at"),
        ("PortfolioUpdated", portfolio(as_of="9999-12-31T23:59:59Z"), "as_of"),
        ("MetricsReported", metrics(timestamp="9999-01-01T00:00:00+05:00"), "timestamp"),
        ("SystemStatusReported", system(timestamp=at(SKEW + 0.001)), "timestamp"),
    ],
)
def test_time_beyond_the_clock_skew_is_an_invalid_event(detail_type: str, detail: Any, field: str) -> None:
    # Stored as the newest, it would make every real event after it look older, for good.
    with pytest.raises(InvalidEventError) as caught:
        parse_trading_event(eventbridge(detail_type, detail), now=NOW)
    assert str(caught.value) == f"invalid {detail_type}: {field}: time is more than 300 s in the future"


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_alert_message_beyond_the_clock_skew_is_invalid(status: str) -> None:
    message = {**FIRING, "status": status, "dedup_key": "k", "timestamp": "9999-12-31T23:59:59Z"}
    with pytest.raises(InvalidEventError) as caught:
        parse_alert_messages(sns(FIRING, message), now=NOW)
    assert str(caught.value) == "record 1: invalid alert message: timestamp: time is more than 300 s in the future"
    late = {**message, "timestamp": at(SKEW + 1)}
    with pytest.raises(InvalidEventError, match="record 0: invalid alert message: timestamp"):
        parse_alert_messages(sns(late), now=NOW)


def test_times_within_the_clock_skew_and_old_times_are_accepted() -> None:
    assert parse_trading_event(eventbridge("MetricsReported", metrics(timestamp=at(SKEW))), now=NOW)
    assert parse_trading_event(eventbridge("TradeExecuted", trade(executed_at="1000-01-01T00:00:00Z")), now=NOW)
    (message,) = parse_alert_messages(sns({**FIRING, "timestamp": at(SKEW)}), now=NOW)
    assert message.timestamp == NOW + MAX_CLOCK_SKEW

"""The rules engine on moto: thresholds, cooldowns, auto-resolve, redeliveries, races and failed publishes;
and the rules function through a real (moto) SNS topic into the alert ingest function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.alerts.logic import engine as rules_engine
from alphapulse.alerts.models import AlertRuleInput, RuleState
from alphapulse.alerts.repositories.rules import RuleRepository, RuleStateRepository
from alphapulse.ingest.models.trading import MetricsReported, SystemStatusReported, parse_trading_event
from tests.conftest import Function, eventbridge, in_function, load_event, sns, template_functions
from tests.fakes import PushRecorder, topic_to_queue

T0 = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail = 0

    def __call__(self, message: Any) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("SNS unavailable")
        self.messages.append(json.loads(json.dumps(message)))

    def summary(self) -> list[tuple[str, str]]:
        return [(m["rule_id"], m["status"]) for m in self.messages]


@pytest.fixture
def engine(table: str) -> Iterator[tuple[RuleRepository, RuleStateRepository, Sent]]:
    yield RuleRepository(table), RuleStateRepository(table), Sent()


def report(minutes: float, tenant_id: str = "default", **metrics: float) -> MetricsReported:
    return MetricsReported(tenant_id=tenant_id, timestamp=T0 + timedelta(minutes=minutes), metrics=metrics)


def run(engine: tuple[RuleRepository, RuleStateRepository, Sent], detail: Any) -> list[dict[str, Any]]:
    rules, states, sent = engine
    return rules_engine.evaluate_report(detail, rules, states, sent)


def test_crossing_a_default_threshold_publishes_a_firing_message(engine: Any) -> None:
    run(engine, report(0, leverage=1.64, var_95=0.03, fill_rate=0.99))
    (message,) = engine[2].messages
    assert message == {
        "tenant_id": "default",
        "title": "High leverage",
        "message": "Leverage is 1.64x, above 1.5x",
        "severity": "error",
        "source": "alphapulse.rules",
        "rule_id": "portfolio_leverage",
        "metric_name": "leverage",
        "metric_value": 1.64,
        "labels": {},
        "dedup_key": "alphapulse.rules:default:portfolio_leverage",
        "status": "firing",
        "timestamp": "2026-01-15T14:00:00.000000Z",
    }


def test_redelivered_report_publishes_nothing(engine: Any) -> None:
    for _ in range(3):
        run(engine, report(0, leverage=1.64))
    assert engine[2].summary() == [("portfolio_leverage", "firing")]


def test_cooldown_then_refire_then_auto_resolve(engine: Any) -> None:
    run(engine, report(0, leverage=1.64))
    run(engine, report(10, leverage=1.70))  # within the 1800 s cooldown
    run(engine, report(29, leverage=1.70))
    run(engine, report(30, leverage=1.71))  # cooldown over: fires again (alert ingest bumps the alert)
    run(engine, report(31, leverage=1.2))  # condition gone: resolved
    run(engine, report(32, leverage=1.2))
    assert engine[2].summary() == [
        ("portfolio_leverage", "firing"),
        ("portfolio_leverage", "firing"),
        ("portfolio_leverage", "resolved"),
    ]
    assert engine[2].messages[-1]["metric_value"] == 1.2


def test_flapping_metric_opens_one_alert_per_cooldown(engine: Any) -> None:
    run(engine, report(0, leverage=1.64))
    run(engine, report(1, leverage=1.2))  # auto-resolved even within the cooldown
    run(engine, report(2, leverage=1.64))  # crosses again within the 1800 s cooldown: no new alert
    run(engine, report(3, leverage=1.2))  # nothing firing, nothing to resolve
    run(engine, report(29, leverage=1.7))
    run(engine, report(30, leverage=1.7))  # cooldown since the last firing over: a new alert
    run(engine, report(31, leverage=1.2))
    assert engine[2].summary() == [
        ("portfolio_leverage", "firing"),
        ("portfolio_leverage", "resolved"),
        ("portfolio_leverage", "firing"),
        ("portfolio_leverage", "resolved"),
    ]
    assert [m["timestamp"][11:16] for m in engine[2].messages] == ["14:00", "14:01", "14:30", "14:31"]


def test_rule_without_cooldown_fires_on_every_crossing(engine: Any) -> None:
    rules, _, sent = engine
    from alphapulse.alerts.logic import rules as rule_logic

    rule = _rule("leverage", "> 1.5").model_copy(update={"cooldown_seconds": 0})
    rule_logic.replace_rule(rules, "default", "portfolio_leverage", rule)
    for minute, value in enumerate([1.64, 1.2, 1.64, 1.64]):
        run(engine, report(minute, leverage=value))
    assert [m["status"] for m in sent.messages] == ["firing", "resolved", "firing", "firing"]


def test_report_older_than_the_last_change_is_ignored(engine: Any) -> None:
    run(engine, report(10, leverage=1.64))
    run(engine, report(5, leverage=1.0))  # overtaken: must not resolve
    assert engine[2].summary() == [("portfolio_leverage", "firing")]


def test_value_within_threshold_and_unknown_metric_publish_nothing(engine: Any) -> None:
    run(engine, report(0, leverage=1.5, unknown_metric=1e9, fill_rate=0.95))  # boundaries do not fire
    assert engine[2].messages == []


def test_disabled_and_custom_rules(engine: Any) -> None:
    rules, _, sent = engine
    from alphapulse.alerts.logic import rules as rule_logic

    rule_logic.replace_rule(rules, "default", "portfolio_leverage", _rule("leverage", "> 1.5", enabled=False))
    rule_logic.create_rule(rules, "default", _rule("pnl", "< -1000", name="Daily loss"))
    run(engine, report(0, leverage=3.0, pnl=-5000))
    assert [(m["title"], m["message"]) for m in sent.messages] == [("Daily loss", "pnl is -5000")]


def _rule(metric: str, condition: str, *, enabled: bool = True, name: str = "Rule") -> AlertRuleInput:
    return AlertRuleInput(
        name=name,
        metric_name=metric,
        condition=condition,
        severity="warning",
        message_template=metric + " is {value:g}",
        cooldown_seconds=60,
        enabled=enabled,
    )


def test_system_status_maps_cpu_and_memory(engine: Any) -> None:
    detail = parse_trading_event(load_event("ingest-system-status-reported"))
    assert isinstance(detail, SystemStatusReported)
    assert detail.values == {
        "cpu_usage_percent": 37.5,
        "memory_usage_percent": 55.7,
        "disk_usage_percent": 42.4,
    }
    hot = detail.model_copy(update={"cpu": detail.cpu.model_copy(update={"usage_percent": 95.0})})
    hot = hot.model_copy(update={"memory": detail.memory.model_copy(update={"percent": 90.0})})
    run(engine, hot)
    assert sorted(engine[2].summary()) == [("high_cpu_usage", "firing"), ("high_memory_usage", "firing")]


def test_tenants_have_their_own_rules_and_state(engine: Any) -> None:
    run(engine, report(0, leverage=1.64))
    run(engine, report(0, tenant_id="acme", leverage=1.64))
    assert [m["dedup_key"] for m in engine[2].messages] == [
        "alphapulse.rules:default:portfolio_leverage",
        "alphapulse.rules:acme:portfolio_leverage",
    ]


def test_concurrent_evaluations_publish_once(engine: Any) -> None:
    # Given an evaluation that read the state, and a second one that changes it before the first writes
    rules, states, sent = engine

    class Interleaved(RuleStateRepository):
        raced = False

        def change(self, tenant_id: str, rule_id: str, *, seen: RuleState | None, new: RuleState) -> bool:
            if not Interleaved.raced:
                Interleaved.raced = True
                rules_engine.evaluate_report(report(0, leverage=1.7), rules, states, sent)
            return super().change(tenant_id, rule_id, seen=seen, new=new)

    racer = Interleaved(states.table)
    rules_engine.evaluate_report(report(0, leverage=1.64), rules, racer, sent)
    assert sent.summary() == [("portfolio_leverage", "firing")]
    assert sent.messages[0]["metric_value"] == 1.7  # the winner's


def test_state_change_is_conditional_on_the_state_read(engine: Any) -> None:
    _, states, _ = engine
    first = RuleState(firing=True, fired_at="a", changed_at="2026-01-15T14:00:00.000000Z")
    assert states.change("default", "r", seen=None, new=first) is True
    assert states.change("default", "r", seen=None, new=first) is False
    second = RuleState(firing=False, fired_at="a", changed_at="2026-01-15T14:05:00.000000Z")
    assert states.change("default", "r", seen=first, new=second) is True
    assert states.change("default", "r", seen=first, new=second) is False  # stale read


def test_failed_publish_is_published_once_by_the_retry(engine: Any) -> None:
    sent = engine[2]
    sent.fail = 1
    with pytest.raises(ConnectionError):
        run(engine, report(0, leverage=1.64))
    run(engine, report(0, leverage=1.64))  # Lambda's retry
    run(engine, report(0, leverage=1.64))
    assert sent.summary() == [("portfolio_leverage", "firing")]


def test_failed_publish_is_published_before_the_next_change(engine: Any) -> None:
    sent = engine[2]
    sent.fail = 1
    with pytest.raises(ConnectionError):
        run(engine, report(0, leverage=1.64))
    run(engine, report(5, leverage=1.0))  # a newer report: the owed firing goes out first, then the resolve
    assert sent.summary() == [("portfolio_leverage", "firing"), ("portfolio_leverage", "resolved")]


def test_message_still_held_by_a_running_invocation_makes_the_retry_wait(engine: Any) -> None:
    rules, states, sent = engine

    def crash(_: Any) -> None:
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        rules_engine.evaluate_report(report(0, leverage=1.64), rules, states, crash, lease_seconds=60)
    with pytest.raises(rules_engine.PublishInProgressError):
        rules_engine.evaluate_report(report(0, leverage=1.64), rules, states, sent)
    later = lambda: 10.0**10  # noqa: E731 (the lease is long over)
    rules_engine.evaluate_report(report(0, leverage=1.64), rules, states, sent, clock=later)
    assert sent.summary() == [("portfolio_leverage", "firing")]


def test_rules_function_publishes_to_the_topic_and_alert_ingest_applies_it(
    moto_server: str, table: str, pushes: PushRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from tests.conftest import reset_caches

    topic, queue = topic_to_queue(moto_server, "alerts", "tap")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
    reset_caches()

    assert Function("functions/rules")(load_event("rules-metrics-reported")) == {"published": 1}
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    (body,) = [json.loads(m["Body"]) for m in received]
    assert body["rule_id"] == "portfolio_leverage" and body["status"] == "firing"
    assert Function("functions/alert_ingest")(sns(body)) == {"pushed": 1}
    ((tenant, channel, kind, alert),) = pushes.calls
    assert (tenant, channel, kind) == ("default", "alerts", "alert")
    assert alert["rule_id"] == "portfolio_leverage" and alert["labels"] == {"env": "prod"}


def test_rules_function_refuses_other_detail_types(table: str) -> None:
    from alphapulse.ingest.models.checks import InvalidEventError

    with pytest.raises(InvalidEventError, match="MetricsReported"):
        Function("functions/rules")(load_event("ingest-trade-executed"))
    with pytest.raises(InvalidEventError):
        Function("functions/rules")(eventbridge("MetricsReported", {"metrics": {"a": 1}}))


def apply_to_alerts(table: str, messages: list[dict[str, Any]]) -> list[Any]:
    """The messages through alert ingest's lifecycle (as the SNS topic would carry them); the tenant's alerts."""
    from alphapulse.alerts.logic.lifecycle import fire
    from alphapulse.alerts.models import AlertEvent
    from alphapulse.alerts.repositories.alerts import AlertRepository

    store = AlertRepository(table)
    results = [fire(store, AlertEvent.model_validate(message)) for message in messages]
    return [result.alert for result in results]


def test_rule_disabled_while_firing_is_resolved_by_the_next_report(engine: Any, table: str) -> None:
    rules, _, sent = engine
    from alphapulse.alerts.logic import rules as rule_logic

    run(engine, report(0, leverage=1.64))
    rule_logic.replace_rule(
        rules, "default", "portfolio_leverage", _rule("leverage", "> 1.5", enabled=False, name="Lev")
    )
    run(engine, report(5, var_95=0.01))  # any report of the tenant, whatever its metrics
    run(engine, report(5, var_95=0.01))  # redelivered
    run(engine, report(6, leverage=3.0))  # disabled: neither fires nor resolves again
    assert sent.summary() == [("portfolio_leverage", "firing"), ("portfolio_leverage", "resolved")]
    resolved = sent.messages[1]
    assert (resolved["message"], resolved["severity"], resolved["timestamp"]) == (
        "Lev: rule disabled, alert resolved",
        "warning",
        "2026-01-15T14:05:00.000000Z",
    )
    fired, closed = apply_to_alerts(table, sent.messages)
    assert closed.alert_id == fired.alert_id and closed.status == "resolved"


def test_rule_deleted_while_firing_is_resolved_by_the_next_report(engine: Any, table: str) -> None:
    rules, _, sent = engine
    from alphapulse.alerts.logic import rules as rule_logic

    run(engine, report(0, leverage=1.64, var_95=0.07))
    rule_logic.delete_rule(rules, "default", "portfolio_leverage")
    run(engine, report(5, var_95=0.07))  # var_high stays firing (within its cooldown)
    assert sent.summary() == [
        ("portfolio_leverage", "firing"),
        ("var_high", "firing"),
        ("portfolio_leverage", "resolved"),
    ]
    assert sent.messages[2]["message"] == "portfolio_leverage: rule deleted, alert resolved"
    alerts_after = apply_to_alerts(table, sent.messages)
    assert [alert.status for alert in alerts_after] == ["firing", "firing", "resolved"]
    assert alerts_after[2].alert_id == alerts_after[0].alert_id


def test_retired_rule_owing_a_message_publishes_it_first(engine: Any) -> None:
    rules, _, sent = engine
    from alphapulse.alerts.logic import rules as rule_logic

    sent.fail = 1
    with pytest.raises(ConnectionError):
        run(engine, report(0, leverage=1.64))
    rule_logic.delete_rule(rules, "default", "portfolio_leverage")
    run(engine, report(5, var_95=0.01))
    assert sent.summary() == [("portfolio_leverage", "firing"), ("portfolio_leverage", "resolved")]


def test_rules_function_imports_neither_the_cache_nor_the_publisher() -> None:
    # It publishes to SNS only: alerts.wiring imports the cache and the publisher at their first use.
    code = "import sys\nprint(sorted({m.split('.')[1] for m in sys.modules if m.startswith('alphapulse.')}))\n"
    rules = next(function for function in template_functions() if function.logical_id == "RulesFunction")
    imported = in_function(rules, code)
    assert "'alerts'" in imported and "'realtime'" not in imported and "'cache'" not in imported, imported

"""The demo feed: what it sends passes ingest validation, keeps a plausible book (cash never negative,
positions that add up to the trades), crosses rule thresholds on a readable rhythm, and reaches the real
bus and topic. The feed is driven by the times it is given, so hours run in a second."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from alphapulse.alerts.logic.defaults import default_rules
from alphapulse.alerts.logic.engine import evaluate_report
from alphapulse.alerts.logic.rules import evaluate
from alphapulse.alerts.models import AlertEvent, AlertRule, RuleState
from alphapulse.core.claims import Claim
from alphapulse.core.times import iso
from alphapulse.ingest.models.trading import (
    MetricsReported,
    PortfolioUpdated,
    SystemStatusReported,
    TradeExecuted,
    parse_trading_event,
)
from alphapulse.portfolio.models import CENT, value_snapshot
from devstack.demo.feed import (
    FIRST_INCIDENT,
    HOLDINGS,
    INCIDENT_EVERY,
    MAX_WEIGHT,
    PRICES,
    START_CASH,
    DemoFeed,
    DemoMarket,
    Entry,
    incident_start,
)
from tests.conftest import eventbridge
from tests.fakes import topic_to_queue

T0 = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
TICK = 2.0  # seconds, as `make run`
HOUR = 3600


def entries(ticks: int, tenant: str = "acme") -> list[Entry]:
    market = DemoMarket(tenant, random.Random(7))
    return [entry for tick in range(ticks) for entry in market.tick(T0 + timedelta(seconds=TICK * tick))]


@dataclasses.dataclass(frozen=True)
class Run:
    """A simulated run of one tenant's desk: every tick's time and entries, and the market after it."""

    market: DemoMarket
    ticks: tuple[tuple[datetime, tuple[Entry, ...], float, dict[str, float]], ...]  # now, entries, cash, prices

    @property
    def produced(self) -> list[Entry]:
        return [entry for _, tick_entries, _, _ in self.ticks for entry in tick_entries]

    def parsed(self, detail_type: str) -> list[Any]:
        return [
            parse_trading_event(eventbridge(entry.detail_type, json.loads(json.dumps(entry.body))))
            for entry in self.produced
            if entry.detail_type == detail_type
        ]


@cache
def simulate(hours: float, seed: int = 7, tenant: str = "acme") -> Run:
    market = DemoMarket(tenant, random.Random(seed))
    ticks = []
    for tick in range(int(hours * HOUR / TICK)):
        now = T0 + timedelta(seconds=TICK * tick)
        ticks.append((now, tuple(market.tick(now)), market.cash, dict(market.prices)))
    return Run(market, tuple(ticks))


class MemoryRules:
    """The tenant's rules: the defaults."""

    def __init__(self) -> None:
        self.rules: list[AlertRule] = []

    def is_seeded(self, tenant_id: str) -> bool:
        return bool(self.rules)

    def seed(self, tenant_id: str, rules: list[AlertRule]) -> bool:
        self.rules = list(rules)
        return True

    def query(self, tenant_id: str, *, limit: int, start_key: dict[str, Any] | None) -> tuple[list[AlertRule], None]:
        return self.rules, None


class MemoryRuleStates:
    """The rules engine's state items, in memory (no concurrency, so every conditional write succeeds)."""

    def __init__(self) -> None:
        self.states: dict[str, RuleState] = {}

    def get(self, tenant_id: str, rule_id: str) -> RuleState | None:
        return self.states.get(rule_id)

    def change(self, tenant_id: str, rule_id: str, *, seen: RuleState | None, new: RuleState) -> bool:
        self.states[rule_id] = new
        return True

    def take_over_message(self, tenant_id: str, rule_id: str, seen: Claim, claim: Claim) -> bool:
        self.states[rule_id] = dataclasses.replace(self.states[rule_id], pending=claim)
        return True

    def release_message(self, tenant_id: str, rule_id: str, claim: Claim) -> bool:
        self.states[rule_id] = dataclasses.replace(self.states[rule_id], pending=None, pending_message=None)
        return True

    def active(self, tenant_id: str) -> list[str]:
        return [rule_id for rule_id, state in self.states.items() if state.firing]


def alert_messages(run: Run) -> list[dict[str, Any]]:
    """Every alert message the tenant's topic carries: the feed's own, and the rules engine's (the default
    rules and cooldowns) for the feed's reports, in order."""
    rules, states, messages = MemoryRules(), MemoryRuleStates(), []
    send: Callable[[Any], None] = messages.append
    for entry in run.produced:
        if entry.kind == "alert":
            messages.append(entry.body)
        elif entry.detail_type in ("MetricsReported", "SystemStatusReported"):
            detail = parse_trading_event(eventbridge(entry.detail_type, entry.body))
            assert isinstance(detail, MetricsReported | SystemStatusReported)
            evaluate_report(detail, rules, states, send, clock=lambda: 0.0)
    return messages


def alerts_opened(messages: list[dict[str, Any]]) -> list[tuple[str, datetime, datetime | None]]:
    """The alerts a person sees appear, as alert ingest opens them (a firing message of a dedup key with no
    active alert): title, fired at, resolved at."""
    opened: dict[str, tuple[str, datetime]] = {}
    alerts: list[tuple[str, datetime, datetime | None]] = []
    for message in messages:
        event = AlertEvent.model_validate(json.loads(json.dumps(message)))
        assert event.dedup_key is not None and event.title is not None
        if event.status == "firing" and event.dedup_key not in opened:
            opened[event.dedup_key] = (event.title, event.timestamp)
        elif event.status == "resolved" and event.dedup_key in opened:
            title, fired = opened.pop(event.dedup_key)
            alerts.append((title, fired, event.timestamp))
    alerts.extend((title, fired, None) for title, fired in opened.values())
    return sorted(alerts, key=lambda alert: alert[1])


def test_every_entry_passes_ingest_validation() -> None:
    produced = simulate(1).produced
    kinds = {entry.detail_type or entry.kind for entry in produced}
    assert kinds == {"TradeExecuted", "PortfolioUpdated", "MetricsReported", "SystemStatusReported", "alert"}
    for entry in produced:
        body = json.loads(json.dumps(entry.body))  # as it travels
        if entry.kind == "event":
            assert entry.detail_type is not None
            assert parse_trading_event(eventbridge(entry.detail_type, body)).tenant_id == "acme"
        else:
            assert AlertEvent.model_validate(body).tenant_id == "acme"


def test_thresholds_are_crossed_and_recovered() -> None:
    rules = {rule.metric_name: rule for rule in default_rules()}
    outcomes: dict[str, set[bool]] = {}
    for detail in simulate(1).parsed("MetricsReported") + simulate(1).parsed("SystemStatusReported"):
        for name, value in detail.values.items():
            if name in rules:
                outcomes.setdefault(name, set()).add(evaluate(rules[name].condition, value))
    crossed = {name for name, seen in outcomes.items() if True in seen}
    assert crossed == {"api_p95_latency", "cpu_usage_percent", "avg_slippage", "api_error_rate"}
    assert all(outcomes[name] == {True, False} for name in crossed)
    statuses = [entry.body["status"] for entry in simulate(1).produced if entry.kind == "alert"]
    assert statuses == ["firing", "resolved"]  # the market-data lag, once an hour


def test_demo_desk_over_hours_keeps_cash_positive_and_positions_bounded() -> None:
    run = simulate(4)
    assert min(cash for _, _, cash, _ in run.ticks) > 0
    for snapshot in run.parsed("PortfolioUpdated"):
        valuation = value_snapshot(snapshot.snapshot())
        assert valuation.cash > 0
        assert valuation.total_value == valuation.cash + valuation.positions_value
        assert all(row.position.quantity > 0 for row in valuation.positions)
        assert all(0 < row.weight <= Decimal(MAX_WEIGHT + 0.03) for row in valuation.positions)
        invested = valuation.positions_value / valuation.total_value
        assert Decimal("0.25") <= invested <= Decimal("0.8")
        assert Decimal(350_000) <= valuation.total_value <= Decimal(460_000)  # it started at 403,460


def test_demo_portfolio_snapshots_follow_from_the_trades() -> None:
    # Given the desk's starting book, replaying every fill gives each snapshot's cash and quantities.
    cash, holdings = Decimal(str(START_CASH)), {symbol: Decimal(str(q)) for symbol, q in HOLDINGS.items()}
    checked = 0
    for entry in simulate(1).produced:
        detail = (
            parse_trading_event(eventbridge(entry.detail_type or "", entry.body)) if entry.kind == "event" else None
        )
        if isinstance(detail, TradeExecuted) and detail.status != "canceled":
            amount = Decimal(str(detail.quantity)) * Decimal(str(detail.price))
            signed = Decimal(str(detail.quantity)) if detail.side == "buy" else -Decimal(str(detail.quantity))
            holdings[detail.symbol] = holdings.get(detail.symbol, Decimal(0)) + signed
            cash = (cash + (-amount if detail.side == "buy" else amount) - Decimal(str(detail.fees))).quantize(CENT)
            assert holdings[detail.symbol] >= 0, "a sell of more than is held"
        elif isinstance(detail, PortfolioUpdated):
            assert abs(detail.cash - cash) <= Decimal("0.01")
            assert {p.symbol: p.quantity for p in detail.positions} == {s: q for s, q in holdings.items() if q}
            checked += 1
    assert checked >= 500


def test_demo_metrics_agree_with_the_portfolio() -> None:
    run = simulate(1)
    for _, tick_entries, _, _ in run.ticks:
        by_type = {entry.detail_type: entry.body for entry in tick_entries if entry.kind == "event"}
        if "PortfolioUpdated" in by_type and "MetricsReported" in by_type:
            portfolio, metrics = by_type["PortfolioUpdated"], by_type["MetricsReported"]["metrics"]
            valuation = value_snapshot(PortfolioUpdated.model_validate(portfolio).snapshot())
            assert metrics["leverage"] == pytest.approx(
                float(valuation.positions_value / valuation.total_value), abs=2e-3
            )
            assert metrics["max_drawdown"] == portfolio["metrics"]["max_drawdown"]
            assert metrics["var_95"] == pytest.approx(
                1.645 * portfolio["metrics"]["volatility"] / math.sqrt(252), abs=2e-4
            )


def test_demo_prices_move_plausibly() -> None:
    run = simulate(4)
    for symbol, reference in PRICES.items():
        path = [prices[symbol] for _, _, _, prices in run.ticks]
        steps = [abs(math.log(b / a)) for a, b in itertools.pairwise(path)]
        assert max(steps) < 0.005  # no jump of half a percent in a tick
        assert min(path) / reference > 0.85 and max(path) / reference < 1.15
        assert sum(a != b for a, b in itertools.pairwise(path)) > len(path) / 2  # and they do move


def test_demo_alerts_fire_and_resolve_on_a_readable_rhythm() -> None:
    for seed in (7, 8):
        alerts = alerts_opened(alert_messages(simulate(3, seed)))
        assert 4 <= len(alerts) / 3 <= 8  # per hour
        assert alerts[0][1] - T0 < timedelta(minutes=3)  # something happens soon after `make run`
        for title, fired, resolved in alerts:
            assert resolved is not None and timedelta(minutes=1) <= resolved - fired <= timedelta(minutes=5), title
        for title in {title for title, _, _ in alerts}:
            times = [fired for t, fired, _ in alerts if t == title]
            assert all(b - a >= timedelta(minutes=15) for a, b in itertools.pairwise(times)), title
        # every incident opened an alert: the rules' cooldowns held none back
        titles = {
            "High API latency",
            "Market data feed lagging",
            "High CPU usage",
            "High slippage",
            "High API error rate",
        }
        assert {title for title, _, _ in alerts} == titles
        assert len(alerts) == len(range(int(FIRST_INCIDENT), 3 * HOUR, int(INCIDENT_EVERY)))


def test_demo_pacing_follows_the_clock_not_the_tick_count() -> None:
    # Given a feed ticking every 10 s instead of 2 s, the market-data incident still starts on time.
    market = DemoMarket("acme", random.Random(1))
    start = incident_start("market_data_lag")
    fired = [
        (tick * 10, entry.body["status"])
        for tick in range(int((start + 600) / 10))
        for entry in market.tick(T0 + timedelta(seconds=tick * 10))
        if entry.kind == "alert"
    ]
    assert [status for _, status in fired] == ["firing", "resolved"]
    assert start <= fired[0][0] < start + 10


def test_trade_ids_are_unique_across_tenants_and_runs() -> None:
    produced = entries(50, "default") + entries(50, "default") + entries(50, "acme")
    ids = [e.body["trade_id"] for e in produced if e.detail_type == "TradeExecuted"]
    assert len(ids) == len(set(ids))


def test_feed_sends_through_the_bus_and_topic(moto_server: str) -> None:
    import boto3

    events = boto3.client("events", endpoint_url=moto_server, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    events.create_event_bus(Name="trading")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="trading", EventPattern=json.dumps({"source": ["alphapulse.trading"]}))
    events.put_targets(Rule="all", EventBusName="trading", Targets=[{"Id": "tap", "Arn": arn}])

    feed = DemoFeed(aws_endpoint=moto_server, bus_name="trading", topic_arn=topic, tenants=["default", "acme"], seed=1,
                    clock=lambda: T0)  # fmt: skip
    accepted = feed.send_tick()
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert accepted >= 6 and received
    for message in received:
        parse_trading_event(json.loads(message["Body"]))
        detail = json.loads(message["Body"])["detail"]
        assert iso(T0) in {detail.get("executed_at"), detail.get("as_of"), detail.get("timestamp")}  # the clock's time


def test_start_and_stop(moto_server: str) -> None:
    feed = DemoFeed(aws_endpoint=moto_server, bus_name="missing", topic_arn="arn:x", tenants=["default"], interval=60)
    feed.start()
    feed.stop()  # returns promptly: the wait is interrupted, not slept through
    assert feed._thread is None


def test_feed_alerts_carry_the_attributes_the_channels_filter_on(moto_server: str) -> None:
    import boto3

    topic, queue = topic_to_queue(moto_server, "alerts", "critical", {"severity": ["critical"]})
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    boto3.client("events", endpoint_url=moto_server, region_name="us-east-1").create_event_bus(Name="trading")
    feed = DemoFeed(aws_endpoint=moto_server, bus_name="trading", topic_arn=topic, tenants=["acme"], seed=1)
    feed.send_tick(T0)  # the start of the feed's rhythm
    feed.send_tick(T0 + timedelta(seconds=incident_start("market_data_lag")))  # raises the external alert

    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["severity"] == "critical"
    assert {name: value["StringValue"] for name, value in message["MessageAttributes"].items()} == {
        "severity": "critical", "status": "firing", "tenant_id": "acme", "source": "prometheus"}  # fmt: skip

"""The demo feed: what it sends passes ingest validation, crosses rule thresholds now and then, and
reaches the real bus and topic."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from alphapulse.alerts.models import AlertEvent
from alphapulse.ingest.models import MetricsReported, SystemStatusReported, parse_trading_event
from devstack.demo.feed import OUTAGE_EVERY, OUTAGE_LENGTH, DemoFeed, DemoMarket, Entry
from tests.conftest import eventbridge

T0 = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def entries(ticks: int, tenant: str = "acme") -> list[Entry]:
    market = DemoMarket(tenant, random.Random(7))
    return [entry for tick in range(ticks) for entry in market.tick(T0 + timedelta(seconds=2 * tick))]


def test_every_entry_passes_ingest_validation() -> None:
    produced = entries(120)
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
    from alphapulse.alerts.logic.defaults import default_rules
    from alphapulse.alerts.logic.rules import evaluate

    rules = {rule.metric_name: rule for rule in default_rules()}
    outcomes: dict[str, set[bool]] = {}
    for entry in entries(120):
        if entry.detail_type in ("MetricsReported", "SystemStatusReported"):
            detail = parse_trading_event(eventbridge(entry.detail_type, entry.body))
            assert isinstance(detail, MetricsReported | SystemStatusReported)
            for name, value in detail.report().values.items():
                if name in rules:
                    outcomes.setdefault(name, set()).add(evaluate(rules[name].condition, value))
    assert outcomes["leverage"] == {True, False}
    assert outcomes["api_p95_latency"] == {True, False}
    assert outcomes["cpu_usage_percent"] == {True, False}
    statuses = [entry.body["status"] for entry in entries(120) if entry.kind == "alert"]
    assert statuses[:2] == ["firing", "resolved"]


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

    feed = DemoFeed(aws_endpoint=moto_server, bus_name="trading", topic_arn=topic, tenants=["default", "acme"], seed=1)
    accepted = feed.send_tick(T0)
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert accepted >= 6 and received
    for message in received:
        parse_trading_event(json.loads(message["Body"]))


def test_start_and_stop(moto_server: str) -> None:
    feed = DemoFeed(aws_endpoint=moto_server, bus_name="missing", topic_arn="arn:x", tenants=["default"], interval=60)
    feed.start()
    feed.stop()  # returns promptly: the wait is interrupted, not slept through
    assert feed._thread is None


def test_feed_alerts_carry_the_attributes_the_channels_filter_on(moto_server: str) -> None:
    import boto3

    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="critical")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"severity": ["critical"]}'})  # fmt: skip
    boto3.client("events", endpoint_url=moto_server, region_name="us-east-1").create_event_bus(Name="trading")
    feed = DemoFeed(aws_endpoint=moto_server, bus_name="trading", topic_arn=topic, tenants=["acme"], seed=1)
    feed.markets[0].ticks = OUTAGE_EVERY - OUTAGE_LENGTH - 1  # the next tick raises the external alert

    feed.send_tick(T0)

    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["severity"] == "critical"
    assert {name: value["StringValue"] for name, value in message["MessageAttributes"].items()} == {
        "severity": "critical", "status": "firing", "tenant_id": "acme", "source": "prometheus"}  # fmt: skip

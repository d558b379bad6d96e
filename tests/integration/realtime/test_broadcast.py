"""publish(): seq, replay log, fan-out to the right subscribers, 410/429/413/expiry, bounded concurrency,
sharding through the fan-out queue and the fan-out function's partial batch responses (moto + fake API)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from alphapulse.aws.management_api import ManagementApiClient
from alphapulse.aws.sigv4 import Credentials
from alphapulse.realtime import wiring
from alphapulse.realtime.logic.broadcast import Broadcaster, Fanout
from alphapulse.realtime.models import Connection, Subscriber
from alphapulse.realtime.protocol import CHANNELS, PushRequest
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository
from devstack.runtime.handlers import LambdaContext, load_handler
from tests.fakes import FakeManagementApi
from tests.integration.realtime.conftest import table_items

TRADE = {
    "trade_id": "T-1",
    "symbol": "AAPL",
    "side": "buy",
    "quantity": 10,
    "price": 228.5,
    "fees": 1.14,
    "status": "filled",
    "order_type": "market",
    "executed_at": "2026-11-24T02:30:00.000000Z",
    "strategy": None,
}

RESYNC = b'{"type":"resync_required","channel":"trades"}'


def publish_one(broadcaster: Broadcaster, tenant: str, channel: str, type_: str, data: Any) -> int:
    """One push, as the publisher function publishes a batch of one; its seq."""
    return broadcaster.publish([PushRequest(tenant, channel, type_, data, time.time())], batch_id=uuid.uuid4().hex)[0]


class Stack:
    """The repositories, a broadcaster and helpers to connect and subscribe connections."""

    def __init__(self, table: str, gateway: FakeManagementApi, *, concurrency: int = 16) -> None:
        self.table, self.gateway = table, gateway
        self.connections, self.channels = ConnectionRepository(table), ChannelRepository(table)
        self.api = ManagementApiClient(
            endpoint=gateway.endpoint,
            region="us-east-1",
            credentials=lambda: Credentials("a", "b", None),
            sleep=lambda _: None,
        )
        self.fanout = Fanout(self.api, self.connections, concurrency=concurrency)
        self.shards: list[str] = []
        self.broadcaster = self.make(shard_threshold=1000)

    def make(self, **options: Any) -> Broadcaster:
        defaults: dict[str, Any] = {"retention_seconds": 3600, "shard_threshold": 1000}
        return Broadcaster(self.channels, self.fanout, **{**defaults, **options})

    def connect(self, connection_id: str, tenant: str = "default", *, lifetime: int = 900) -> Connection:
        now = int(time.time())
        connection = Connection(
            connection_id,
            tenant,
            f"{tenant}-user",
            frozenset({"view_trades", "view_alerts"}),
            now + lifetime,
            now,
            now + lifetime,
        )
        self.connections.put(connection)
        return connection

    def subscribe(
        self, connection_id: str, channel: str = "trades", tenant: str = "default", *, lifetime: int = 900
    ) -> None:
        connection = self.connect(connection_id, tenant, lifetime=lifetime)
        current = self.channels.current_seq(tenant, channel)
        self.channels.go_live(tenant, channel, connection_id, live_from=current, expires_at=connection.expires_at)

    def rows_of(self, connection_id: str) -> list[dict[str, Any]]:
        return [
            i
            for i in table_items(self.table)
            if connection_id in (i.get("connection_id"), i["pk"].removeprefix("CONN#"))
        ]


@pytest.fixture
def stack(realtime: dict[str, str], gateway: FakeManagementApi) -> Stack:
    return Stack(realtime["ConnectionsTable"], gateway)


def test_publish_numbers_logs_and_delivers_to_the_tenant_and_channel_only(stack: Stack) -> None:
    stack.subscribe("c1")
    stack.subscribe("c2")
    stack.subscribe("acme1", tenant="acme")
    stack.subscribe("alerts1", "alerts")
    before = int(time.time())
    seqs = [
        publish_one(stack.broadcaster, "default", "trades", "trade", {**TRADE, "trade_id": f"T-{n}"}) for n in range(3)
    ]
    assert seqs == [1, 2, 3]
    for connection_id in ("c1", "c2"):
        messages = stack.gateway.messages(connection_id)
        assert [m["seq"] for m in messages] == [1, 2, 3]
        assert [m["data"]["trade_id"] for m in messages] == ["T-0", "T-1", "T-2"]
        assert set(messages[0]) == {"type", "channel", "seq", "timestamp", "data"}
        assert (messages[0]["type"], messages[0]["channel"], messages[0]["data"]) == (
            "trade",
            "trades",
            {**TRADE, "trade_id": "T-0"},
        )
    assert stack.gateway.messages("acme1") == [] and stack.gateway.messages("alerts1") == []
    log = [i for i in table_items(stack.table) if i["sk"].startswith("LOG#")]
    assert sorted(i["seq"] for i in log) == [1, 2, 3]
    assert all(before + 3600 <= i["expires_at"] <= int(time.time()) + 3600 for i in log)
    # The other tenant's channel counts on its own.
    assert publish_one(stack.broadcaster, "acme", "trades", "trade", TRADE) == 1


def test_publish_refuses_a_type_of_another_channel(stack: Stack) -> None:
    for type_, channel in (("trade", "alerts"), ("alert", "trades"), ("trade", "weather"), ("hello", "trades")):
        with pytest.raises(ValueError):
            publish_one(stack.broadcaster, "default", channel, type_, TRADE)
    assert table_items(stack.table) == []  # no seq taken, nothing logged


def test_publish_of_data_that_cannot_be_encoded_takes_no_seq(stack: Stack) -> None:
    with pytest.raises(TypeError):
        publish_one(stack.broadcaster, "default", "trades", "trade", {**TRADE, "price": object()})
    assert table_items(stack.table) == []  # no seq taken: resuming clients see no gap
    assert publish_one(stack.broadcaster, "default", "trades", "trade", TRADE) == 1


def test_publish_without_subscribers_still_takes_a_seq_and_logs(stack: Stack) -> None:
    assert publish_one(stack.broadcaster, "default", "alerts", "alert", {"alert_id": "a"}) == 1
    assert publish_one(stack.broadcaster, "default", "alerts", "alert_update", {"alert_id": "a"}) == 2
    assert stack.channels.entries("default", "alerts", after=0, upto=2, now=int(time.time()))[1].seq == 2
    assert stack.gateway.calls == []


def test_gone_connection_is_deleted_and_the_others_still_served(stack: Stack) -> None:
    for connection_id in ("c1", "c2", "c3"):
        stack.subscribe(connection_id)
        stack.subscribe(connection_id, "alerts")
    stack.gateway.closed.add("c2")
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert len(stack.gateway.messages("c1")) == len(stack.gateway.messages("c3")) == 1
    assert stack.rows_of("c2") == []  # the connection and both its subscriptions
    assert len(stack.rows_of("c1")) == 3
    assert publish_one(stack.broadcaster, "default", "trades", "trade", TRADE) == 2
    assert [c.connection_id for c in stack.gateway.calls].count("c2") == 1  # not tried again


def test_throttled_connection_is_retried_then_delivered(stack: Stack) -> None:
    stack.subscribe("c1")
    stack.gateway.scripts["c1"] = [429, 429, 500]
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert [m["seq"] for m in stack.gateway.messages("c1")[-1:]] == [1]
    assert [c.connection_id for c in stack.gateway.calls] == ["c1"] * 4


def test_persistently_throttled_connection_does_not_stop_the_others(stack: Stack) -> None:
    targets = [Subscriber(f"c{n}", int(time.time()) + 900) for n in range(6)]
    stack.gateway.scripts["c2"] = [429] * 20
    report = stack.fanout.deliver("default", [b'{"type":"trade"}'], targets, now=time.time(), resync=RESYNC)
    assert report.failed == ["c2"] and report.delivered == 5
    assert {c.connection_id for c in stack.gateway.calls if c.method == "POST"} == {f"c{n}" for n in range(6)}


def test_unexpected_error_on_one_connection_does_not_stop_the_others(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = stack.api.post_to_connection

    def flaky(connection_id: str, data: bytes) -> None:
        if connection_id == "c1":
            raise RuntimeError("boom")
        original(connection_id, data)

    monkeypatch.setattr(stack.api, "post_to_connection", flaky)
    targets = [Subscriber(f"c{n}", int(time.time()) + 900) for n in range(4)]
    report = stack.fanout.deliver("default", [b"{}"], targets, now=time.time(), resync=RESYNC)
    # c1 missed the push, so it is closed (its client reconnects and resumes); the others got it.
    assert report.failed == [] and report.closed == 1 and report.delivered == 3
    assert stack.gateway.deleted("c1")


def test_connection_still_failing_after_the_retries_is_closed_not_skipped(stack: Stack) -> None:
    stack.subscribe("c1")
    stack.subscribe("c2")
    stack.gateway.scripts["c1"] = [429, 500, 429, 500]  # every try of the push fails; the close goes through
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert stack.gateway.deleted("c1") and stack.rows_of("c1") == []
    assert [m["seq"] for m in stack.gateway.messages("c2")] == [1]


def test_too_large_push_reaches_subscribers_as_resync_required(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    stack.subscribe("c1")
    seq = publish_one(stack.broadcaster, "default", "trades", "trade", {**TRADE, "strategy": "x" * 200_000})
    # Never silence: the push cannot be sent, so the subscriber is told to reload the channel from REST.
    assert seq == 1 and stack.gateway.messages("c1") == [{"type": "resync_required", "channel": "trades"}]
    assert "told to resync" in caplog.text
    assert len(stack.rows_of("c1")) == 2  # the connection is not at fault


def test_413_from_the_gateway_is_a_resync_not_a_connection_problem(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.subscribe("c1")
    stack.subscribe("c2")
    stack.gateway.scripts["c1"] = [413]
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert len(stack.gateway.messages("c2")) == 1
    # Not retried: c1 is told to resync instead (the second and last call), and stays connected.
    to_c1 = [json.loads(c.body) for c in stack.gateway.calls if c.connection_id == "c1"]
    assert len(to_c1) == 2 and to_c1[0]["type"] == "trade"
    assert to_c1[1] == {"type": "resync_required", "channel": "trades"}
    assert len(stack.rows_of("c1")) == 2
    assert "told to resync" in caplog.text


def test_expired_connection_is_closed_and_forgotten_not_sent(stack: Stack) -> None:
    stack.subscribe("old", lifetime=-1)  # its token expired a second ago
    stack.subscribe("fresh")
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert stack.gateway.messages("old") == []
    assert stack.gateway.deleted("old")
    assert stack.rows_of("old") == []
    assert len(stack.gateway.messages("fresh")) == 1


def test_delivery_concurrency_is_bounded_by_the_pool(realtime: dict[str, str]) -> None:
    slow = FakeManagementApi(delay=0.03)
    try:
        stack = Stack(realtime["ConnectionsTable"], slow, concurrency=8)
        targets = [Subscriber(f"c{n}", int(time.time()) + 900) for n in range(40)]
        report = stack.fanout.deliver("default", [b"{}"], targets, now=time.time(), resync=RESYNC)
        assert report.delivered == 40
        assert 2 <= slow.max_in_flight <= 8
    finally:
        slow.stop()


class RecordingQueue:
    def __init__(self, fail: bool = False) -> None:
        self.bodies: list[str] = []
        self.groups: list[str] = []
        self.fail = fail

    def send(self, body: str, *, group: str, deduplication_id: str) -> None:
        if self.fail:
            raise ConnectionError("queue unreachable")
        self.bodies.append(body)
        self.groups.append(group)


def test_large_audience_is_sharded_through_the_queue_and_delivered_once(stack: Stack) -> None:
    for n in range(5):
        stack.subscribe(f"c{n}")
    queue = RecordingQueue()
    broadcaster = stack.make(shard_threshold=2, shards=queue)
    seq = publish_one(broadcaster, "default", "trades", "trade", TRADE)
    assert stack.gateway.calls == []
    shards = [json.loads(body) for body in queue.bodies]
    # by connection bucket (its message group), then at most the threshold per shard
    assert sorted(c for shard in shards for c, _ in shard["connections"]) == [f"c{n}" for n in range(5)]
    assert all(len(shard["connections"]) <= 2 for shard in shards)
    assert {(s["tenant_id"], s["channel"], s["seq"]) for s in shards} == {("default", "trades", seq)}
    for body in queue.bodies:
        assert broadcaster.deliver_shard(body).delivered == len(json.loads(body)["connections"])
    for n in range(5):
        assert [m["seq"] for m in stack.gateway.messages(f"c{n}")] == [seq]


def test_audience_at_the_threshold_is_not_sharded(stack: Stack) -> None:
    stack.subscribe("c1")
    stack.subscribe("c2")
    queue = RecordingQueue()
    publish_one(stack.make(shard_threshold=2, shards=queue), "default", "trades", "trade", TRADE)
    assert queue.bodies == [] and len(stack.gateway.calls) == 2


def test_shard_that_cannot_be_queued_fails_the_publish_so_that_its_batch_comes_back_in_order(stack: Stack) -> None:
    for n in range(3):
        stack.subscribe(f"c{n}")
    broadcaster = stack.make(shard_threshold=1, shards=RecordingQueue(fail=True))
    with pytest.raises(ConnectionError):
        broadcaster.publish([PushRequest("default", "trades", "trade", TRADE, time.time())], batch_id="b-1")
    # Delivering it from here instead could overtake a shard still queued for the same connection
    assert stack.gateway.calls == []
    # Redelivered, the batch keeps its seq
    queue = RecordingQueue()
    seqs = stack.make(shard_threshold=1, shards=queue).publish(
        [PushRequest("default", "trades", "trade", TRADE, time.time())], batch_id="b-1"
    )
    assert seqs == [1] and len(queue.bodies) == 3


def test_while_a_bucket_has_a_shard_queued_its_connections_pushes_queue_behind_it(stack: Stack) -> None:
    """The audience drops below the threshold while a shard waits in the queue: a push delivered from the
    publisher would overtake it, so the busy buckets are sharded however small the audience."""
    for n in range(3):
        stack.subscribe(f"c{n}")
    queue = RecordingQueue()
    broadcaster = stack.make(shard_threshold=2, shards=queue)
    first = publish_one(broadcaster, "default", "trades", "trade", TRADE)  # 3 > 2: sharded, not yet delivered
    shards_of_first = list(queue.bodies)
    stack.connections.remove("c2", "default")  # the audience is now 2, at the threshold
    second = publish_one(broadcaster, "default", "trades", "trade", TRADE)
    # Nothing was sent from the publisher: c0 and c1 have a shard waiting, so the second push queued behind it
    assert stack.gateway.calls == []
    assert sorted(c for body in queue.bodies[len(shards_of_first) :] for c, _ in json.loads(body)["connections"]) == [
        "c0",
        "c1",
    ]
    for body in queue.bodies:  # the fan-out function, each group in order
        broadcaster.deliver_shard(body)
    for connection_id in ("c0", "c1"):
        assert [m["seq"] for m in stack.gateway.messages(connection_id)] == [first, second]
    # Once every shard is delivered, the buckets are free again: the next push goes out from the publisher
    queue.bodies.clear()
    third = publish_one(broadcaster, "default", "trades", "trade", TRADE)
    assert queue.bodies == []
    for connection_id in ("c0", "c1"):
        assert [m["seq"] for m in stack.gateway.messages(connection_id)] == [first, second, third]


def test_a_connection_neither_reached_nor_closed_from_the_publisher_is_retried_through_the_queue(
    stack: Stack,
) -> None:
    stack.subscribe("ok")
    stack.subscribe("stuck")
    stack.gateway.scripts["stuck"] = [429] * 20  # posts and closes alike
    queue = RecordingQueue()
    broadcaster = stack.make(shard_threshold=2, shards=queue)
    seq = publish_one(broadcaster, "default", "trades", "trade", TRADE)
    assert [m["seq"] for m in stack.gateway.messages("ok")] == [seq]
    assert [[c for c, _ in json.loads(body)["connections"]] for body in queue.bodies] == [["stuck"]]
    # and its next push waits behind that shard, however small the audience
    publish_one(broadcaster, "default", "trades", "trade", TRADE)
    assert [[c for c, _ in json.loads(body)["connections"]] for body in queue.bodies] == [["stuck"], ["stuck"]]
    stack.gateway.scripts["stuck"] = []
    for body in queue.bodies:
        assert not broadcaster.deliver_shard(body).failed
    assert [m["seq"] for m in stack.gateway.messages("stuck")] == [seq, seq + 1]
    assert [m["seq"] for m in stack.gateway.messages("ok")] == [seq, seq + 1]


def test_a_bucket_s_delivered_position_only_grows(stack: Stack) -> None:
    stack.channels.record_shard_delivered("default", "trades", 3, 5)
    stack.channels.record_shard_delivered("default", "trades", 3, 4)  # a late redelivery of an earlier shard
    stack.channels.record_shard_delivered("default", "trades", 7, 1)
    assert stack.channels.shards_delivered("default", "trades") == {3: 5, 7: 1}


def test_shard_of_a_push_no_longer_logged_asks_its_connections_to_resync(stack: Stack) -> None:
    body = json.dumps(
        {"tenant_id": "default", "channel": "trades", "seq": 99, "connections": [["c1", int(time.time()) + 60]]}
    )
    report = stack.broadcaster.deliver_shard(body)
    assert report.failed == [] and stack.gateway.messages("c1") == [{"type": "resync_required", "channel": "trades"}]


def test_a_connection_s_shards_always_go_to_the_same_group_so_they_stay_in_order(stack: Stack) -> None:
    for n in range(40):
        stack.subscribe(f"c{n}")
    queue = RecordingQueue()
    broadcaster = stack.make(shard_threshold=3, shards=queue)
    groups: dict[str, set[str]] = {}
    for _ in range(3):  # three batches, with the audience changing between them
        publish_one(broadcaster, "default", "trades", "trade", TRADE)
        for body, group in zip(queue.bodies, queue.groups, strict=True):
            for connection_id, _ in json.loads(body)["connections"]:
                groups.setdefault(connection_id, set()).add(group)
        queue.bodies.clear()
        queue.groups.clear()
        stack.subscribe(f"new{len(groups)}")
    assert all(len(seen) == 1 for seen in groups.values()), groups
    assert len({group for seen in groups.values() for group in seen}) > 1  # the audience is spread over groups


def test_a_shard_with_a_connection_neither_reached_nor_closed_fails_and_its_redelivery_sends_only_to_it(
    stack: Stack,
) -> None:
    # Given a shard of three connections, one of which can neither be sent to nor closed
    seq = publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    expires = int(time.time()) + 900
    stack.gateway.scripts["stuck"] = [429] * 20
    body = json.dumps(
        {
            "tenant_id": "default",
            "channel": "trades",
            "seq": seq,
            "connections": [[c, expires] for c in ("a", "stuck", "b")],
        }
    )
    # When it is delivered, it is reported failed (the queue redelivers it, in its group's order)
    report = stack.broadcaster.deliver_shard(body)
    assert report.failed == ["stuck"] and report.delivered == 2
    # and its redelivery sends nothing again to the connections that have the push
    stack.gateway.scripts["stuck"] = []
    assert stack.broadcaster.deliver_shard(body).delivered == 1
    assert [m["seq"] for m in stack.gateway.messages("a")] == [seq]
    assert stack.gateway.messages("stuck")[-1]["seq"] == seq


@pytest.mark.parametrize(
    "body", ["not json", "{}", '{"tenant_id":"default","channel":"trades","seq":1,"connections":[["c1"]]}']
)
def test_malformed_shard_is_refused(stack: Stack, body: str) -> None:
    with pytest.raises(ValueError):
        stack.broadcaster.deliver_shard(body)


def sqs_record(message_id: str, body: str, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": attributes or {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
    }


def test_publish_through_the_real_queue_and_the_fanout_function(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="FanoutQueue.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    monkeypatch.setenv("FANOUT_QUEUE_URL", queue_url)
    monkeypatch.setenv("FANOUT_SHARD_THRESHOLD", "2")
    wiring.dependencies.reset()
    for n in range(5):
        stack.subscribe(f"c{n}")
    stack.gateway.closed.add("c4")
    wiring.publish("default", "trades", "trade", TRADE, push_id="t1")
    seq = stack.channels.current_seq("default", "trades")
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert len(received) >= 2 and stack.gateway.calls == []
    event = {"Records": [sqs_record(m["MessageId"], m["Body"], m["Attributes"]) for m in received]}
    assert load_handler("functions/fanout")(event, lambda_context) == {"batchItemFailures": []}
    for n in range(4):
        assert [m["seq"] for m in stack.gateway.messages(f"c{n}")] == [seq]
    assert stack.rows_of("c4") == []


def test_fanout_function_reports_the_shards_it_could_not_finish(stack: Stack, lambda_context: LambdaContext) -> None:
    seq = publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    expires = int(time.time()) + 900

    def shard(*connection_ids: str) -> str:
        return json.dumps(
            {
                "tenant_id": "default",
                "channel": "trades",
                "seq": seq,
                "connections": [[c, expires] for c in connection_ids],
            }
        )

    stack.gateway.scripts["stuck"] = [429] * 20
    stack.gateway.closed.add("gone")

    def in_group(group: str) -> dict[str, str]:
        return {"MessageGroupId": group}

    event = {
        "Records": [
            sqs_record("ok", shard("a", "b"), in_group("g1")),
            sqs_record("bad", "{", in_group("g2")),
            sqs_record("throttled", shard("c", "stuck"), in_group("g3")),
            sqs_record("gone-only", shard("gone"), in_group("g4")),
            sqs_record("after-throttled", shard("d"), in_group("g3")),
        ]
    }
    result = load_handler("functions/fanout")(event, lambda_context)
    # a failed shard holds the later records of its group back (FIFO), not those of other groups
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "bad"},
            {"itemIdentifier": "throttled"},
            {"itemIdentifier": "after-throttled"},
        ]
    }
    assert all(len(stack.gateway.messages(c)) == 1 for c in ("a", "b", "c"))
    assert stack.gateway.messages("d") == []


def test_fanout_event_file_is_handled(stack: Stack, lambda_context: LambdaContext) -> None:
    from tests.conftest import load_event

    event = load_event("fanout-shards")
    shard = json.loads(event["Records"][0]["body"])
    for _ in range(shard["seq"]):
        seq = publish_one(stack.broadcaster, shard["tenant_id"], shard["channel"], "trade", TRADE)
    assert seq == shard["seq"]
    assert all(expires_at > time.time() + 86_400 * 365 for _, expires_at in shard["connections"])  # not a time bomb
    assert load_handler("functions/fanout")(event, lambda_context) == {"batchItemFailures": []}
    for connection_id, _ in shard["connections"]:
        assert [m["seq"] for m in stack.gateway.messages(connection_id)] == [seq]


def test_channels_of_the_protocol_are_the_design_ones() -> None:
    assert set(CHANNELS) == {"metrics", "alerts", "portfolio", "trades", "system"}


def test_a_1000_position_portfolio_reaches_its_subscriber_as_the_push_or_resync_required(
    stack: Stack, realtime: dict[str, str]
) -> None:
    # Given a subscriber of `portfolio` and the largest portfolio the model allows, ingested for real
    from alphapulse.ingest.logic import trading as ingest
    from alphapulse.ingest.models.trading import parse_trading_event
    from alphapulse.ingest.wiring import IngestDependencies
    from alphapulse.realtime import wiring
    from tests.conftest import eventbridge

    stack.subscribe("c1", "portfolio")
    positions = [
        {"symbol": f"SYM{n:04d}", "quantity": 10 + n, "entry_price": 100.25, "current_price": 101.5}
        for n in range(1000)
    ]
    detail = {"as_of": "2026-11-24T02:30:00Z", "cash": 1_000_000, "positions": positions}
    event = parse_trading_event(eventbridge("PortfolioUpdated", detail))
    ingest.ingest_trading_event(event, IngestDependencies().stores, wiring.publish, changed=lambda *_: None)
    # Then, as 1000 valued positions are over API Gateway's 128 KB, it is told to reload: never silence
    assert stack.gateway.messages("c1") == [{"type": "resync_required", "channel": "portfolio"}]


def test_concurrent_publishers_deliver_every_push_in_seq_order(stack: Stack) -> None:
    # Given 8 publishers at once on one channel, each in its own thread (as 8 containers would be), queueing
    # through the push queue (here run inline, one group at a time, as SQS FIFO hands a group out)
    stack.subscribe("c1")
    stack.subscribe("c2")

    def publish_five(worker: int) -> None:
        for n in range(5):
            wiring.publish(
                "default", "trades", "trade", {**TRADE, "trade_id": f"T-{worker}-{n}"}, push_id=f"{worker}-{n}"
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(publish_five, range(8)))
    # Then every subscriber got all 40, each once, strictly +1
    for connection_id in ("c1", "c2"):
        messages = stack.gateway.messages(connection_id)
        assert [m["seq"] for m in messages] == list(range(1, 41))
        assert len({m["data"]["trade_id"] for m in messages}) == 40


def test_a_batch_is_numbered_in_order_and_each_subscriber_gets_it_in_order(stack: Stack) -> None:
    stack.subscribe("c1")
    pushes = [PushRequest("default", "trades", "trade", {**TRADE, "n": n}, time.time()) for n in range(10)]
    assert stack.broadcaster.publish(pushes, batch_id="m-1") == list(range(1, 11))
    assert [(m["seq"], m["data"]["n"]) for m in stack.gateway.messages("c1")] == [(n + 1, n) for n in range(10)]
    assert [entry.seq for entry in stack.channels.entries("default", "trades", after=0, upto=10, now=0)] == list(
        range(1, 11)
    )


@pytest.mark.parametrize("again", [3, 5, 4])
def test_a_redelivered_batch_gets_the_same_seqs_and_leaves_no_gap(stack: Stack, again: int) -> None:
    # Given a batch of 4 whose seqs were taken before its attempt failed
    assert stack.channels.take_seqs("default", "trades", 4, batch_id="m-1").first == 1
    # When the same batch comes back (with fewer or more of its group's messages), it starts at the same seq
    assert stack.channels.take_seqs("default", "trades", again, batch_id="m-1").first == 1
    # and the next batch follows it without a gap
    assert stack.channels.take_seqs("default", "trades", 2, batch_id="m-9").first == again + 1
    assert stack.channels.current_seq("default", "trades") == again + 2


def test_a_publish_whose_log_write_fails_fails_before_anyone_is_sent_to(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphapulse.core.errors import DataAccessError

    stack.subscribe("c1")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise DataAccessError("storage unavailable during append to replay log")

    push = PushRequest("default", "trades", "trade", TRADE, time.time())
    monkeypatch.setattr(stack.channels, "append", broken)
    with pytest.raises(DataAccessError):
        stack.broadcaster.publish([push], batch_id="m-1")
    assert stack.gateway.messages("c1") == []
    # Its redelivery (the same batch id) is numbered 1 again, and delivered: no gap, no push twice
    monkeypatch.undo()
    assert stack.broadcaster.publish([push], batch_id="m-1") == [1]
    assert [m["seq"] for m in stack.gateway.messages("c1")] == [1]


def test_publisher_event_file_is_handled(stack: Stack, lambda_context: LambdaContext) -> None:
    from tests.conftest import load_event

    event = load_event("publisher-pushes")
    stack.subscribe("live")
    catch_up = json.loads(event["Records"][1]["body"])
    stack.connect(catch_up["connection_id"])
    publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    assert load_handler("functions/publisher")(event, lambda_context) == {"batchItemFailures": []}
    # The push reached the live subscriber as seq 2; the catch-up (since 41: ahead of the channel) resynced
    assert [m["seq"] for m in stack.gateway.messages("live")] == [1, 2]
    assert stack.gateway.messages(catch_up["connection_id"]) == [{"type": "resync_required", "channel": "trades"}]


def test_publisher_through_the_real_fifo_queue_keeps_each_channel_in_order(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="PushQueue.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    monkeypatch.setenv("PUSH_QUEUE_URL", queue_url)
    with wiring.dependencies.override(wiring.RealtimeDependencies()):
        stack.subscribe("c1")
        stack.subscribe("c2", "alerts")
        for n in range(12):
            wiring.publish("default", "trades", "trade", {**TRADE, "n": n}, push_id=f"t{n}")
            wiring.publish("default", "alerts", "alert", {"alert_id": f"a{n}"}, push_id=f"a{n}")
        wiring.publish("default", "trades", "trade", {**TRADE, "n": 0}, push_id="t0")  # a retried send: dropped
        handler = load_handler("functions/publisher")
        while received := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages"
        ):
            event = {"Records": [sqs_record(m["MessageId"], m["Body"], m["Attributes"]) for m in received]}
            assert handler(event, lambda_context) == {"batchItemFailures": []}
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
    assert [(m["seq"], m["data"]["n"]) for m in stack.gateway.messages("c1")] == [(n + 1, n) for n in range(12)]
    assert [m["seq"] for m in stack.gateway.messages("c2")] == list(range(1, 13))


def test_a_shard_delivered_twice_sends_each_connection_each_seq_once(stack: Stack) -> None:
    seq = publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    expires = int(time.time()) + 900
    body = json.dumps(
        {"tenant_id": "default", "channel": "trades", "seq": seq, "connections": [[f"c{n}", expires] for n in range(5)]}
    )
    assert stack.broadcaster.deliver_shard(body).delivered == 5
    # SQS delivers it again (at least once): nobody gets the push a second time
    assert stack.broadcaster.deliver_shard(body).delivered == 0
    for n in range(5):
        assert [m["seq"] for m in stack.gateway.messages(f"c{n}")] == [seq]


def test_a_shard_stopped_halfway_resumes_with_the_connections_it_had_not_done(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphapulse.realtime.logic import broadcast

    monkeypatch.setattr(broadcast, "SHARD_PROGRESS_CHUNK", 2)
    seq = publish_one(stack.broadcaster, "default", "trades", "trade", TRADE)
    expires = int(time.time()) + 900
    body = json.dumps(
        {"tenant_id": "default", "channel": "trades", "seq": seq, "connections": [[f"c{n}", expires] for n in range(5)]}
    )
    # Given a delivery that stops (the function timed out) after its second chunk of two
    original, chunks = stack.fanout.deliver, []

    def stopping(*args: Any, **kwargs: Any) -> Any:
        if len(chunks) == 2:
            raise TimeoutError("the function timed out")
        chunks.append(args[2])
        return original(*args, **kwargs)

    monkeypatch.setattr(stack.fanout, "deliver", stopping)
    with pytest.raises(TimeoutError):
        stack.broadcaster.deliver_shard(body)
    monkeypatch.setattr(stack.fanout, "deliver", original)
    # When the shard comes back whole, only the one connection not done gets the push
    assert stack.broadcaster.deliver_shard(body).delivered == 1
    for n in range(5):
        assert [m["seq"] for m in stack.gateway.messages(f"c{n}")] == [seq], f"c{n}"

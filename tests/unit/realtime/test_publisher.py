"""The publisher's batch rules: each group in order, consecutive pushes published together, a failure or too
little time leaving the record and the rest of its group for the queue, malformed messages dropped."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from alphapulse.realtime.logic import publisher
from alphapulse.realtime.logic.publisher import Record, process, queue_push
from alphapulse.realtime.models import GoLive
from alphapulse.realtime.protocol import PushRequest, SubscriptionRequest, parse_request, request_body


class Recorder:
    """Both the broadcaster and the frame handler: records what it was asked, in order; fails when told."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.calls: list[tuple[str, list[str], str]] = []
        self.fail_on = fail_on or set()

    def publish(self, pushes: Sequence[PushRequest], *, batch_id: str) -> list[int]:
        names = [str((push.data or {})["n"]) for push in pushes]
        self.calls.append(("publish", names, batch_id))
        if self.fail_on & set(names):
            raise ConnectionError("storage unavailable")
        return list(range(len(pushes)))

    def catch_up(self, request: SubscriptionRequest, *, deadline: float) -> GoLive:
        self.calls.append(("subscription", [request.connection_id], ""))
        if request.connection_id in self.fail_on:
            raise ConnectionError("storage unavailable")
        return GoLive.LIVE


def push(n: str, group: str = "g1") -> Record:
    tenant, channel = ("acme", "trades") if group == "g1" else ("acme", "metrics")
    type_ = "trade" if channel == "trades" else "metrics"
    return Record(f"m{n}", group, request_body(PushRequest(tenant, channel, type_, {"n": n}, 0.0)))


def catch_up(connection_id: str, group: str = "g1") -> Record:
    return Record(f"m{connection_id}", group, request_body(SubscriptionRequest("acme", "trades", connection_id, 3)))


def run(records: list[Record], recorder: Recorder, seconds_left: float = 30.0) -> list[str]:
    return process(records, recorder, recorder, seconds_left=lambda: seconds_left)


def test_consecutive_pushes_of_a_group_are_published_together_and_a_catch_up_takes_its_turn() -> None:
    recorder = Recorder()
    records = [push("1"), push("2"), catch_up("c1"), push("3"), push("a", "g2"), push("4")]
    assert run(records, recorder) == []
    assert recorder.calls == [
        ("publish", ["1", "2"], "m1"),
        ("subscription", ["c1"], ""),
        ("publish", ["3", "4"], "m3"),
        ("publish", ["a"], "ma"),
    ]


def test_a_failure_leaves_that_record_and_the_rest_of_its_group_only() -> None:
    recorder = Recorder(fail_on={"c1"})
    records = [push("1"), catch_up("c1"), push("2"), push("a", "g2"), push("b", "g2")]
    assert run(records, recorder) == ["mc1", "m2"]
    assert ("publish", ["a", "b"], "ma") in recorder.calls


def test_a_failed_publish_leaves_its_whole_run_for_the_redelivery_under_the_same_batch_id() -> None:
    recorder = Recorder(fail_on={"2"})
    assert run([push("1"), push("2"), push("3")], recorder) == ["m1", "m2", "m3"]
    assert recorder.calls == [("publish", ["1", "2", "3"], "m1")]


@pytest.mark.parametrize(("seconds_left", "failed"), [(2.0, ["m1", "mc1"]), (5.0, ["mc1"])])
def test_too_little_time_left_leaves_the_records_for_the_next_invocation(
    seconds_left: float, failed: list[str]
) -> None:
    assert publisher.PUBLISH_SECONDS < 5.0 < publisher.CATCH_UP_SECONDS
    assert run([push("1"), catch_up("c1")], Recorder(), seconds_left) == failed


def test_a_malformed_message_is_dropped_and_does_not_hold_its_group_up(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    records = [push("1"), Record("bad", "g1", "{not json"), push("2")]
    assert run(records, recorder) == []
    assert recorder.calls == [("publish", ["1"], "m1"), ("publish", ["2"], "m2")]


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        json.dumps({"kind": "push", "tenant_id": "a"}),
        json.dumps({"kind": "push", "tenant_id": "a", "channel": "trades", "type": "trade", "data": [1], "at": 0}),
        json.dumps({"kind": "other"}),
        "[" * 100 + "]" * 100,
    ],
)
def test_parse_refuses_what_is_not_a_push_queue_message(body: str) -> None:
    with pytest.raises(ValueError, match="not a push queue message"):
        parse_request(body)


class SentQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []

    def send(self, tenant_id: str, channel: str, body: str, *, deduplication_id: str) -> None:
        self.sent.append((tenant_id, channel, body, deduplication_id))


def test_the_same_push_queued_twice_carries_the_same_deduplication_id_and_others_do_not() -> None:
    queue = SentQueue()
    queue_push(queue, "acme", "trades", "trade", {"n": 1}, push_id="trade:T-1:v1")
    queue_push(queue, "acme", "trades", "trade", {"n": 1}, push_id="trade:T-1:v1")
    queue_push(queue, "acme", "trades", "trade", {"n": 1}, push_id="trade:T-1:v2")
    queue_push(queue, "other", "trades", "trade", {"n": 1}, push_id="trade:T-1:v1")
    ids = [sent[3] for sent in queue.sent]
    assert ids[0] == ids[1] and len(set(ids)) == 3 and all(len(i) <= 128 for i in ids)


def test_a_push_too_large_for_one_message_is_queued_as_a_resync() -> None:
    queue = SentQueue()
    queue_push(queue, "acme", "portfolio", "portfolio", {"blob": "x" * 200_000}, push_id="p")
    (_, _, body, _) = queue.sent[0]
    request = parse_request(body)
    assert isinstance(request, PushRequest) and request.too_large and request.data is None and len(body) < 1000

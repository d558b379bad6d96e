"""Redriving a dead-letter queue (alphapulse.ops.logic), with in-memory queues and functions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from alphapulse.ops.logic import redrive
from alphapulse.ops.models import Message, MoveTask, Queue, parse_invocation_record

QUEUE = Queue("https://sqs.us-east-1.amazonaws.com/123456789012/Dlq", "arn:aws:sqs:us-east-1:123456789012:Dlq")
INGEST = "arn:aws:lambda:us-east-1:123456789012:function:stack-IngestFunction-abc:$LATEST"


def record(event: Any, function_arn: str = INGEST, error: str = "ResourceNotFoundException") -> str:
    """An invocation record as Lambda sends it to an on-failure destination."""
    return json.dumps({
        "version": "1.0", "timestamp": "2026-11-02T10:00:00.000Z",
        "requestContext": {"requestId": "r-1", "functionArn": function_arn, "condition": "RetriesExhausted",
                           "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": error, "errorMessage": "Requested resource not found"},
    })  # fmt: skip


def trade_event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "detail-type": "TradeExecuted", "source": "alphapulse.trading", "detail": {}}


@dataclass
class FakeQueues:
    messages: dict[str, str] = field(default_factory=dict)  # id -> body, visible
    sources: list[str] = field(default_factory=list)
    tasks: list[MoveTask] = field(default_factory=list)  # what ListMessageMoveTasks answers, call after call
    hidden: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    started: int = 0

    def dead_letter_sources(self, queue: Queue) -> list[str]:
        return self.sources

    def depth(self, queue: Queue) -> int:
        return len(self.messages)

    def start_move(self, queue: Queue) -> None:
        self.started += 1

    def latest_move(self, queue: Queue) -> MoveTask:
        return self.tasks.pop(0) if len(self.tasks) > 1 else self.tasks[0]

    def receive(self, queue: Queue, hidden_seconds: int) -> list[Message]:
        batch = list(self.messages.items())[:10]
        for message_id, _ in batch:
            self.hidden[message_id] = self.messages.pop(message_id)
        return [Message(message_id, f"receipt-{message_id}", body) for message_id, body in batch]

    def delete(self, queue: Queue, message: Message) -> None:
        self.deleted.append(self.hidden.pop(message.message_id) and message.message_id)

    def release(self, queue: Queue, message: Message) -> None:
        self.messages[message.message_id] = self.hidden.pop(message.message_id)


@dataclass
class FakeFunctions:
    failing: dict[str, str] = field(default_factory=dict)  # event id -> error
    invoked: list[tuple[str, Any]] = field(default_factory=list)

    def invoke(self, function_arn: str, payload: Any) -> str | None:
        self.invoked.append((function_arn, payload))
        return self.failing.get(payload.get("id"))


def test_redrive_on_failure_destination_invokes_again_and_deletes_what_succeeded() -> None:
    queues = FakeQueues({"m1": record(trade_event("e1")), "m2": record(trade_event("e2"))})
    functions = FakeFunctions(failing={"e2": "InvalidEventError: quantity must be positive"})

    report = redrive(QUEUE, queues, functions)

    assert functions.invoked == [(INGEST, trade_event("e1")), (INGEST, trade_event("e2"))]
    assert [(o.message_id, o.target, o.what) for o in report.redriven] == [
        ("m1", "stack-IngestFunction-abc", "TradeExecuted event e1")]  # fmt: skip
    assert [(o.message_id, o.reason) for o in report.failed] == [("m2", "InvalidEventError: quantity must be positive")]
    assert queues.deleted == ["m1"]
    assert list(queues.messages) == ["m2"]  # kept, and visible again
    assert not report.ok


def test_redrive_more_than_one_batch_each_message_once() -> None:
    queues = FakeQueues({f"m{i}": record(trade_event(f"e{i}")) for i in range(25)})
    functions = FakeFunctions(failing={f"e{i}": "boom" for i in range(0, 25, 5)})

    report = redrive(QUEUE, queues, functions)

    assert len(functions.invoked) == 25
    assert (len(report.redriven), len(report.failed)) == (20, 5)
    assert sorted(queues.messages) == ["m0", "m10", "m15", "m20", "m5"]


def test_redrive_dry_run_invokes_nothing_and_keeps_everything() -> None:
    queues = FakeQueues({"m1": record(trade_event("e1"))})
    functions = FakeFunctions()

    report = redrive(QUEUE, queues, functions, dry_run=True)

    assert functions.invoked == []
    assert queues.deleted == [] and list(queues.messages) == ["m1"]
    [outcome] = report.redriven
    assert outcome.reason == "ResourceNotFoundException: Requested resource not found"  # why it failed first
    assert report.ok


def test_redrive_message_that_is_no_invocation_record_kept_and_reported() -> None:
    queues = FakeQueues({"m1": "not json", "m2": json.dumps({"requestContext": {}})})

    report = redrive(QUEUE, queues, FakeFunctions())

    assert [o.message_id for o in report.failed] == ["m1", "m2"]
    assert all("not a Lambda invocation record" in o.reason for o in report.failed)
    assert sorted(queues.messages) == ["m1", "m2"]


def test_redrive_failure_reason_carries_no_token() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    queues = FakeQueues({"m1": record(trade_event("e1"))})
    functions = FakeFunctions(failing={"e1": f"ValueError: bad header Bearer {token} " + "x" * 500})

    [failed] = redrive(QUEUE, queues, functions).failed

    assert token not in failed.reason
    assert len(failed.reason) <= 300


def test_redrive_sns_record_named_by_its_message_id() -> None:
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "sns-1", "Message": "{}"}}]}
    queues = FakeQueues({"m1": record(event, function_arn=INGEST.replace("Ingest", "AlertIngest"))})

    [outcome] = redrive(QUEUE, queues, FakeFunctions()).redriven

    assert (outcome.target, outcome.what) == ("stack-AlertIngestFunction-abc", "SNS message sns-1")


def test_redrive_sqs_dead_letter_queue_runs_a_move_task_to_its_end() -> None:
    queues = FakeQueues(sources=["PushQueue.fifo"], tasks=[MoveTask("RUNNING", 1, 3), MoveTask("COMPLETED", 3, 3)])
    waits: list[float] = []

    report = redrive(QUEUE, queues, FakeFunctions(), sleep=waits.append)

    assert queues.started == 1
    assert (report.method, report.moved, report.sources, report.ok) == ("move task", 3, ["PushQueue.fifo"], True)
    assert waits == [1.0]


def test_redrive_move_task_that_fails_reported() -> None:
    queues = FakeQueues(sources=["PushQueue.fifo"], tasks=[MoveTask("FAILED", 2, 5, "CouldNotDetermineMessageSource")])

    report = redrive(QUEUE, queues, FakeFunctions(), sleep=lambda _: None)

    assert (report.moved, report.task_failure) == (2, "FAILED: CouldNotDetermineMessageSource")
    assert not report.ok


def test_redrive_move_task_dry_run_counts_and_starts_nothing() -> None:
    queues = FakeQueues({"m1": "a", "m2": "b"}, sources=["PushQueue.fifo"])

    report = redrive(QUEUE, queues, FakeFunctions(), dry_run=True)

    assert (queues.started, report.waiting) == (0, 2)


@pytest.mark.parametrize(
    "body",
    ["[]", json.dumps({"requestContext": {"functionArn": "arn:aws:sqs:x"}, "requestPayload": {}}), "{"],
)
def test_parse_invocation_record_refuses_other_messages(body: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_invocation_record(body)

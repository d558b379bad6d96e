"""The SQS event source: batch size, partial batch responses, whole-batch retries and redrive to the DLQ."""

from __future__ import annotations

import threading
import time
from typing import Any

from devstack.events.router import EventRouter
from devstack.template.resolve import LocalResolver
from tests.devstack.events.conftest import POLL_WAIT, RETRY_DELAYS, TIMEOUT, Aws, Calls, fail

ACCOUNT = "123456789012"


def send(aws: Aws, *bodies: str) -> None:
    entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
    for start in range(0, len(entries), 10):
        assert not aws.sqs.send_message_batch(
            QueueUrl=aws.values["SourceQueue"], Entries=entries[start : start + 10]
        ).get("Failed")


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [record["body"] for event in events for record in event["Records"]]


def test_messages_arrive_in_batches_of_the_batch_size_in_sqs_shape(router: EventRouter, aws: Aws, calls: Calls) -> None:
    aws.sqs.send_message(
        QueueUrl=aws.values["SourceQueue"],
        MessageBody="first",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    send(aws, *[f"m{index}" for index in range(6)])

    events = []
    while len(bodies(events)) < 7:
        events = calls.wait_for("BatchFunction", len(events) + 1)

    assert all(1 <= len(event["Records"]) <= 3 for event in events)
    assert sorted(bodies(events)) == sorted(["first", *[f"m{index}" for index in range(6)]])
    record = next(record for event in events for record in event["Records"] if record["body"] == "first")
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:SourceQueue"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "raw": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    aws.wait_depth("SourceQueue", 0)


def test_only_reported_failures_return_to_the_queue_and_poison_moves_to_its_dlq(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    def report_poison(event: dict[str, Any]) -> dict[str, Any]:
        failed = [record["messageId"] for record in event["Records"] if record["body"] == "poison"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    calls.behaviours["BatchFunction"] = report_poison
    send(aws, "a", "poison", "b")

    (dead,) = aws.receive("SourceDeadLetterQueue", 1)

    assert dead["Body"] == "poison"
    delivered = bodies(calls.of("BatchFunction"))
    assert sorted(delivered) == ["a", "b", "poison", "poison"]  # maxReceiveCount: 2
    aws.wait_depth("SourceQueue", 0)


def test_function_error_returns_the_whole_batch(router: EventRouter, aws: Aws, calls: Calls) -> None:
    outcomes = iter([fail])
    calls.behaviours["BatchFunction"] = lambda event: next(outcomes, lambda _: None)(event)
    send(aws, "x", "y")

    events = []
    while sorted(bodies(events)) != ["x", "x", "y", "y"]:
        events = calls.wait_for("BatchFunction", len(events) + 1)

    retried = events[-1]["Records"]
    assert {record["attributes"]["ApproximateReceiveCount"] for record in retried} == {"2"}
    assert aws.depth("SourceDeadLetterQueue") == 0


def test_invalid_batch_item_failures_response_fails_the_whole_batch(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    responses = iter([{"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}])
    calls.behaviours["BatchFunction"] = lambda event: next(responses, None)
    send(aws, "only")

    calls.wait_for("BatchFunction", 2)
    assert bodies(calls.of("BatchFunction")) == ["only", "only"]


def test_fifo_queue_keeps_each_group_in_order_one_batch_at_a_time_with_several_pollers(
    moto_server: str, template: dict[str, Any], provisioned: dict[str, str], aws: Aws
) -> None:
    # Given three pollers (Lambda scales out) on a FIFO queue carrying two message groups
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    seen: dict[str, list[int]] = {"A": [], "B": []}
    guard = threading.Lock()

    def handle(function: str, event: dict[str, Any]) -> Any:
        groups = {record["attributes"]["MessageGroupId"] for record in event["Records"]}
        with guard:
            for group in groups:
                in_flight[group] = in_flight.get(group, 0) + 1
                most[group] = max(most.get(group, 0), in_flight[group])
        time.sleep(0.05)
        with guard:
            for record in event["Records"]:
                group, number = record["body"].split(":")
                seen[group].append(int(number))
            for group in groups:
                in_flight[group] -= 1
        return None

    router = EventRouter(template, LocalResolver(template, provisioned), moto_server, handle,
                         retry_delays=RETRY_DELAYS, poll_wait=POLL_WAIT, concurrency=3).start()  # fmt: skip
    try:
        for n in range(8):
            for group in ("A", "B"):
                aws.sqs.send_message(
                    QueueUrl=aws.values["OrderedQueue"], MessageBody=f"{group}:{n}", MessageGroupId=group
                )
        deadline = time.monotonic() + TIMEOUT
        while sum(map(len, seen.values())) < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        router.stop()
    # Then every group arrived whole and in order, never two batches of one group at once
    assert seen == {"A": list(range(8)), "B": list(range(8))}
    assert most == {"A": 1, "B": 1}

"""moto's SQS with message move tasks (devstack.emulation.moves): dead-letter queue redrive as SQS does it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

Queues = tuple[Any, str, str, str, str]  # client, source URL and ARN, dead-letter queue URL and ARN


def _arn(client: Any, url: str) -> str:
    return str(client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _pair(client: Any, name: str, *, fifo: bool = False) -> Queues:
    """A queue whose messages go to its dead-letter queue after one receive."""
    suffix, kind = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
    dlq_url = client.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=kind)["QueueUrl"]
    dlq_arn = _arn(client, dlq_url)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = client.create_queue(QueueName=f"{name}{suffix}", Attributes={**kind, "RedrivePolicy": policy})["QueueUrl"]
    return client, url, _arn(client, url), dlq_url, dlq_arn


def _dead_letter(client: Any, url: str, count: int) -> None:
    """Receive `count` messages once without deleting them, so that the next receive dead-letters them."""
    received = 0
    while received < count:
        received += len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
                        .get("Messages", []))  # fmt: skip
    assert client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages") is None


def _finished(client: Any, source_arn: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.list_message_move_tasks(SourceArn=source_arn)["Results"][0]
        if task["Status"] not in ("RUNNING", "CANCELLING"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"the task did not finish within {timeout} s")


def _bodies(client: Any, url: str, **extra: Any) -> list[dict[str, Any]]:
    reply = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                   MessageAttributeNames=["All"], **extra)  # fmt: skip
    return list(reply.get("Messages", []))


@pytest.fixture
def sqs(moto_server: str) -> Any:
    return boto3.client("sqs")


def test_dead_lettered_message_names_its_source_queue(sqs: Any) -> None:
    client, url, arn, dlq_url, _ = _pair(sqs, "orders")
    client.send_message(QueueUrl=url, MessageBody="one")
    _dead_letter(client, url, 1)
    [message] = _bodies(client, dlq_url)
    assert message["Attributes"]["DeadLetterQueueSourceArn"] == arn


def test_move_task_default_destination_returns_each_message_to_its_source(sqs: Any) -> None:
    client, url, _, dlq_url, dlq_arn = _pair(sqs, "orders")
    for body in ("one", "two", "three"):
        client.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": body.upper()}})  # fmt: skip
    _dead_letter(client, url, 3)

    handle = client.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]

    task = _finished(client, dlq_arn)
    assert handle
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"], task["ApproximateNumberOfMessagesToMove"]) == (
        "COMPLETED", 3, 3)  # fmt: skip
    assert "TaskHandle" not in task and "DestinationArn" not in task
    moved = _bodies(client, url)
    assert sorted((m["Body"], m["MessageAttributes"]["kind"]["StringValue"]) for m in moved) == [
        ("one", "ONE"), ("three", "THREE"), ("two", "TWO")]  # fmt: skip
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in moved)  # a fresh start
    assert _bodies(client, dlq_url) == []


def test_move_task_fifo_keeps_group_and_deduplication_ids(sqs: Any) -> None:
    client, url, _, _, dlq_arn = _pair(sqs, "pushes", fifo=True)
    client.send_message(QueueUrl=url, MessageBody="p1", MessageGroupId="acme#trades", MessageDeduplicationId="d1")
    _dead_letter(client, url, 1)

    client.start_message_move_task(SourceArn=dlq_arn)

    assert _finished(client, dlq_arn)["Status"] == "COMPLETED"
    [message] = _bodies(client, url)
    assert (message["Body"], message["Attributes"]["MessageGroupId"]) == ("p1", "acme#trades")
    assert message["Attributes"]["MessageDeduplicationId"] == "d1"


def test_move_task_to_a_given_destination(sqs: Any) -> None:
    client, url, _, _, dlq_arn = _pair(sqs, "orders")
    elsewhere = client.create_queue(QueueName="elsewhere")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="one")
    _dead_letter(client, url, 1)

    client.start_message_move_task(SourceArn=dlq_arn, DestinationArn=_arn(client, elsewhere))

    task = _finished(client, dlq_arn)
    assert (task["Status"], task["DestinationArn"]) == ("COMPLETED", _arn(client, elsewhere))
    assert [m["Body"] for m in _bodies(client, elsewhere)] == ["one"]
    assert _bodies(client, url) == []


def test_move_task_message_sent_straight_to_the_dlq_fails_the_task(sqs: Any) -> None:
    # Given a message no redrive policy put there (a Lambda destination, a person)
    client, _, _, dlq_url, dlq_arn = _pair(sqs, "orders")
    client.send_message(QueueUrl=dlq_url, MessageBody="stray")

    client.start_message_move_task(SourceArn=dlq_arn)

    task = _finished(client, dlq_arn)
    assert (task["Status"], task["FailureReason"], task["ApproximateNumberOfMessagesMoved"]) == (
        "FAILED", "CouldNotDetermineMessageSource", 0)  # fmt: skip
    assert [m["Body"] for m in _bodies(client, dlq_url)] == ["stray"]  # kept where it was


def test_move_task_cancelled_stops_moving(sqs: Any) -> None:
    client, url, _, dlq_url, dlq_arn = _pair(sqs, "orders")
    for index in range(5):
        client.send_message(QueueUrl=url, MessageBody=str(index))
    _dead_letter(client, url, 5)
    handle = client.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    running = client.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert (running["Status"], running["TaskHandle"], running["MaxNumberOfMessagesPerSecond"]) == ("RUNNING", handle, 2)

    moved = client.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]

    task = _finished(client, dlq_arn)
    assert task["Status"] == "CANCELLED"
    assert moved <= task["ApproximateNumberOfMessagesMoved"] < 5
    left = len(_bodies(client, dlq_url, VisibilityTimeout=0))
    assert left == 5 - task["ApproximateNumberOfMessagesMoved"]
    with pytest.raises(ClientError) as again:
        client.cancel_message_move_task(TaskHandle=handle)
    assert again.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_move_task_one_active_task_per_source(sqs: Any) -> None:
    client, url, _, _, dlq_arn = _pair(sqs, "orders")
    for index in range(3):
        client.send_message(QueueUrl=url, MessageBody=str(index))
    _dead_letter(client, url, 3)
    client.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)

    with pytest.raises(ClientError) as second:
        client.start_message_move_task(SourceArn=dlq_arn)

    assert second.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "already a task running" in second.value.response["Error"]["Message"]
    handle = client.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["TaskHandle"]
    client.cancel_message_move_task(TaskHandle=handle)


def test_move_tasks_listed_newest_first_up_to_max_results(sqs: Any) -> None:
    client, _, _, _, dlq_arn = _pair(sqs, "orders")
    for _ in range(2):
        client.start_message_move_task(SourceArn=dlq_arn)
        _finished(client, dlq_arn)

    tasks = client.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]

    assert len(tasks) == 2
    assert tasks[0]["StartedTimestamp"] >= tasks[1]["StartedTimestamp"]
    assert len(client.list_message_move_tasks(SourceArn=dlq_arn)["Results"]) == 1


@pytest.mark.parametrize(
    ("source", "destination", "code", "message"),
    [
        ("unknown", None, "ResourceNotFoundException", "SourceArn parameter doesn't exist"),
        ("source", None, "InvalidParameterValue", "must be configured as a Dead Letter Queue"),
        ("dlq", "unknown", "ResourceNotFoundException", "DestinationArn parameter doesn't exist"),
        ("dlq", "dlq", "InvalidParameterValue", "cannot be the same"),
        ("dlq", "fifo", "InvalidParameterValue", "same type"),
        ("not-an-arn", None, "InvalidParameterValue", "format"),
    ],
)
def test_start_move_task_refused_as_sqs_refuses(
    sqs: Any, source: str, destination: str | None, code: str, message: str
) -> None:
    client, _, arn, _, dlq_arn = _pair(sqs, "orders")
    fifo = client.create_queue(QueueName="other.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arns = {"source": arn, "dlq": dlq_arn, "fifo": _arn(client, fifo), "not-an-arn": "orders-dlq",
            "unknown": dlq_arn.replace("orders-dlq", "missing")}  # fmt: skip
    extra = {"DestinationArn": arns[destination]} if destination else {}

    with pytest.raises(ClientError) as refused:
        client.start_message_move_task(SourceArn=arns[source], **extra)

    assert refused.value.response["Error"]["Code"] == code
    assert message in refused.value.response["Error"]["Message"]


def test_cancel_unknown_task_not_found(sqs: Any) -> None:
    with pytest.raises(ClientError) as refused:
        sqs.cancel_message_move_task(TaskHandle="bm90IGEgdGFzaw==")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_change_message_visibility_makes_a_message_visible_again(sqs: Any) -> None:
    # ChangeMessageVisibility reaches moto by keyword: the long-polling patch (emulation.sqs) must still wake pollers
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    [message] = _bodies(sqs, url, VisibilityTimeout=900)

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    assert [m["Body"] for m in _bodies(sqs, url)] == ["one"]

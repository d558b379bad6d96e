"""The redrive command against the local stack, run as an operator runs it (`python -m alphapulse.ops redrive`):
a Lambda destination's records go back to their function, an SQS dead-letter queue's messages to their queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.template.load import load_template, table_definition
from tests.conftest import ROOT
from tests.e2e.conftest import RunningStack, start_stack, stop_stack
from tests.e2e.test_reliability import aws_client, bearer, dead_letters_with, put_event
from tests.e2e.test_websocket import access_token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(logs=tmp_path_factory.mktemp("stack"))
    yield running
    stop_stack(running)


def redrive(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh process, with no AWS settings of ours: only the endpoint, as the README gives it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "alphapulse.ops", "--endpoint-url", stack.aws_endpoint, "redrive", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def trade(trade_id: str, **fields: Any) -> str:
    return json.dumps({"tenant_id": "default", "trade_id": trade_id, "symbol": "AAPL", "side": "buy", "quantity": 5,
                       "price": 228.1, "fees": 0.57, "status": "filled", "order_type": "market",
                       "executed_at": "2026-11-02T10:00:00Z", **fields})  # fmt: skip


def visible_bodies(sqs: Any, url: str) -> list[str]:
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1)
    return [message["Body"] for message in reply.get("Messages", [])]


def test_redrive_poisoned_event_stored_after_the_fix_and_invalid_one_kept(stack: RunningStack) -> None:
    # Given two events in IngestDeadLetterQueue: a good trade that failed because DataTable was gone, and an
    # invalid one that no fix will save
    dynamodb, sqs = aws_client(stack, "dynamodb"), aws_client(stack, "sqs")
    table, dlq = stack.outputs["DataTableName"], stack.outputs["IngestDeadLetterQueueUrl"]
    good, bad = f"REDRIVE-{uuid.uuid4().hex[:8]}", f"INVALID-{uuid.uuid4().hex[:8]}"
    dynamodb.delete_table(TableName=table)
    good_event = put_event(stack, "TradeExecuted", trade(good))["Entries"][0]["EventId"]
    bad_event = put_event(stack, "TradeExecuted", trade(bad, quantity=-5))["Entries"][0]["EventId"]
    assert dead_letters_with(sqs, dlq, good, within=30) and dead_letters_with(sqs, dlq, bad, within=30)
    # ... and the cause of the first fixed: the table is back, as the template defines it
    definition = table_definition(load_template()["Resources"]["DataTable"], table)
    dynamodb.create_table(**definition)

    # When the operator looks first, then redrives
    looked = redrive(stack, "--queue", "IngestDeadLetterQueue", "--dry-run")
    done = redrive(stack, "--queue", "IngestDeadLetterQueue")

    # Then the dry run changed nothing and named both events
    assert looked.returncode == 0, looked.stderr
    assert f"TradeExecuted event {good_event}" in looked.stdout and f"TradeExecuted event {bad_event}" in looked.stdout
    assert "IngestDeadLetterQueue: 2 would redrive, 0 failed again" in looked.stdout
    # ... the redrive stored the good one and said so, and kept the invalid one, saying why
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("redriven") and f"IngestFunction  TradeExecuted event {good_event}" in line
               for line in lines), done.stdout  # fmt: skip
    assert any(line.startswith("failed again") and bad_event in line and "quantity" in line for line in lines), lines
    assert "IngestDeadLetterQueue: 1 redriven, 1 failed again (kept in the queue)" in done.stdout
    token = access_token(stack, "trader")
    reply = httpx.get(f"{stack.base_url}/api/v1/trades/{good}", headers=bearer(token), timeout=20)
    assert reply.status_code == 200, reply.text
    assert reply.json()["trade_id"] == good
    left = visible_bodies(sqs, dlq)
    assert [bad in body for body in left] == [True], left


def test_redrive_sqs_dead_letter_queue_moves_fifo_messages_back_with_their_ids(stack: RunningStack) -> None:
    # Given a FIFO queue whose message went to its dead-letter queue after one receive
    sqs = aws_client(stack, "sqs")
    dlq = sqs.create_queue(QueueName="orders-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName="orders.fifo", Attributes={
        "FifoQueue": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    })["QueueUrl"]  # fmt: skip
    sqs.send_message(QueueUrl=source, MessageBody="order-1", MessageGroupId="acme", MessageDeduplicationId="o-1")
    assert visible_bodies(sqs, source) == ["order-1"]
    assert visible_bodies(sqs, source) == []  # the second receive moved it
    assert visible_bodies(sqs, dlq) == ["order-1"]

    # When the operator redrives the dead-letter queue, by its ARN
    done = redrive(stack, "--queue", dlq_arn)

    # Then it went back where it came from, as it was
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orders-dlq.fifo: 1 message(s) moved back to orders.fifo (SQS message move task)" in done.stdout
    reply = sqs.receive_message(QueueUrl=source, AttributeNames=["All"], WaitTimeSeconds=1)
    [message] = reply["Messages"]
    assert (message["Body"], message["Attributes"]["MessageGroupId"]) == ("order-1", "acme")
    assert message["Attributes"]["MessageDeduplicationId"] == "o-1"
    assert visible_bodies(sqs, dlq) == []


def test_redrive_push_dead_letter_queue_message_with_no_source_fails_and_stays(stack: RunningStack) -> None:
    # Given a message put straight into PushDeadLetterQueue (no redrive policy moved it: no source to return to)
    sqs = aws_client(stack, "sqs")
    dlq = stack.outputs["PushDeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"stray": true}', MessageGroupId="g", MessageDeduplicationId="s-1")

    done = redrive(stack, "--queue", dlq)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "the move task ended FAILED: CouldNotDetermineMessageSource" in done.stdout
    deadline = time.monotonic() + 5
    while not (left := visible_bodies(sqs, dlq)) and time.monotonic() < deadline:
        pass
    assert left == ['{"stray": true}']


def test_redrive_unknown_queue_refused_without_a_trace(stack: RunningStack) -> None:
    done = redrive(stack, "--queue", "NoSuchQueue")

    assert done.returncode == 1
    assert done.stderr.startswith("error: sqs get_queue_url failed"), done.stderr
    assert "Traceback" not in done.stderr

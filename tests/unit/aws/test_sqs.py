"""The small SQS client against moto: what it sends is what botocore reads back; errors are clear."""

from __future__ import annotations

import boto3
import pytest

from alphapulse.aws.sigv4 import Credentials
from alphapulse.aws.sqs import SqsClient, SqsError


def make_client(endpoint: str) -> SqsClient:
    return SqsClient(region="us-east-1", endpoint_url=endpoint, credentials=lambda: Credentials("a", "b", None))


def test_a_fifo_message_arrives_with_its_group_and_a_repeated_deduplication_id_is_dropped(moto_server: str) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="probe.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    client = make_client(moto_server)
    for body in ("first", "again"):
        answer = client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="T#a#CHANNEL#trades",
                                     MessageDeduplicationId="d1")  # fmt: skip
        assert answer["MessageId"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert message["Body"] == "first" and message["Attributes"]["MessageGroupId"] == "T#a#CHANNEL#trades"


def test_an_unknown_queue_is_a_clear_error(moto_server: str) -> None:
    client = make_client(moto_server)
    with pytest.raises(SqsError, match=r"NonExistentQueue|QueueDoesNotExist"):
        client.send_message(QueueUrl=f"{moto_server}/123456789012/missing", MessageBody="x")
    with pytest.raises(SqsError, match="not a queue"):
        client.send_message(QueueUrl="", MessageBody="x")


def test_an_endpoint_that_is_down_is_an_error_after_the_retries() -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(SqsError, match="SendMessage"):
        client.send_message(QueueUrl="http://127.0.0.1:9/123456789012/q", MessageBody="x")

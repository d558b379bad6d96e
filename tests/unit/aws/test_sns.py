"""The small SNS client: the form it sends is botocore's, messages arrive with their attributes, retries, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import boto3
import botocore.session
import pytest
from botocore.serialize import create_serializer

from alphapulse.aws.sigv4 import Credentials
from alphapulse.aws.sns import SnsClient, SnsError, publish_form
from tests.fakes import ScriptedServer, topic_to_queue

ATTRIBUTES = {"severity": {"DataType": "String", "StringValue": "critical"},
              "tenant_id": {"DataType": "String", "StringValue": "acme & co/1"}}  # fmt: skip
PUBLISHED = """<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>
<MessageId>5f1d7a2e-0000-4000-8000-000000000001</MessageId></PublishResult>
<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>"""


def error(code: str, message: str = "no") -> str:
    return (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>{code}'
            f"</Code><Message>{message}</Message></Error><RequestId>r-2</RequestId></ErrorResponse>")  # fmt: skip


def make_client(endpoint: str) -> SnsClient:
    return SnsClient(region="us-east-1", endpoint_url=endpoint, credentials=lambda: Credentials("a", "b", None))


@pytest.mark.parametrize(
    "params",
    [
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Message": '{"a": "é & =?"}',
         "MessageAttributes": ATTRIBUTES},
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts.fifo", "Message": "m", "Subject": "s",
         "MessageGroupId": "g", "MessageDeduplicationId": "d"},
    ],
)  # fmt: skip
def test_the_form_is_what_botocore_sends(params: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model("sns").operation_model("Publish")
    theirs = create_serializer("query").serialize_to_request(params, model)["body"]

    assert dict(publish_form(params)) == theirs


def test_a_message_arrives_with_its_attributes(moto_server: str) -> None:
    topic, url = topic_to_queue(moto_server, "probe", "probe")

    answer = make_client(moto_server).publish(TopicArn=topic, Message='{"x": "ü & %"}', MessageAttributes=ATTRIBUTES)

    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert answer["MessageId"] and json.loads(message["Body"]) == {"x": "ü & %"}
    assert message["MessageAttributes"]["tenant_id"] == ATTRIBUTES["tenant_id"]


def test_a_missing_topic_is_a_clear_error(moto_server: str) -> None:
    with pytest.raises(SnsError, match="NotFound") as raised:
        make_client(moto_server).publish(TopicArn="arn:aws:sns:us-east-1:123456789012:missing", Message="m")
    assert raised.value.code == "NotFound"


def test_bad_parameters_are_refused_before_sending() -> None:
    client = make_client("http://127.0.0.1:9")  # nothing listens: a request would fail differently
    with pytest.raises(SnsError, match="Message must be a string"):
        client.publish(TopicArn="arn", Message={"not": "text"})
    with pytest.raises(SnsError, match="unsupported Publish parameters: Bogus"):
        client.publish(TopicArn="arn", Message="m", Bogus="x")


@pytest.fixture
def scripted() -> Iterator[Any]:
    """Starts a loopback SNS answering each Publish with the next scripted (status, XML); keeps the forms sent."""
    servers: list[ScriptedServer] = []

    def start(*script: tuple[int, str]) -> ScriptedServer:
        answers = [(status, body.encode(), {"Content-Type": "text/xml"}) for status, body in script]
        servers.append(ScriptedServer(answers, decode=lambda body: dict(parse_qsl(body.decode()))))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_throttling_and_server_errors_are_retried(scripted: Any) -> None:
    server = scripted((400, error("Throttling")), (500, error("InternalError")), (200, PUBLISHED))

    answer = make_client(server.endpoint).publish(TopicArn="arn:t", Message="m")

    assert answer == {"MessageId": "5f1d7a2e-0000-4000-8000-000000000001"}
    assert len(server.requests) == 3 and server.requests[0]["body"]["Action"] == "Publish"


def test_a_refusal_is_not_retried(scripted: Any) -> None:
    server = scripted((403, error("AuthorizationError", "not allowed")))

    with pytest.raises(SnsError, match="AuthorizationError: not allowed"):
        make_client(server.endpoint).publish(TopicArn="arn:t", Message="m")
    assert len(server.requests) == 1


def test_an_answer_that_is_not_xml_is_an_error(scripted: Any) -> None:
    server = scripted((502, "<html>bad gateway"), (502, "<html>bad gateway"), (502, "<html>bad gateway"))

    with pytest.raises(SnsError, match="UnknownError: <html>bad gateway"):
        make_client(server.endpoint).publish(TopicArn="arn:t", Message="m")
    assert len(server.requests) == 3


def test_an_endpoint_that_is_down_is_an_error_after_the_retries() -> None:
    with pytest.raises(SnsError, match="Publish"):
        make_client("http://127.0.0.1:9").publish(TopicArn="arn:t", Message="m")

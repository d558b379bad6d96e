"""The DynamoDB client: SigV4 signatures equal botocore's, retries, errors and credentials."""

from __future__ import annotations

import json
import unittest.mock
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alphapulse.aws.dynamodb import DynamoDBClient, DynamoDBConnectionError, DynamoDBError, is_condition_failure
from alphapulse.aws.sigv4 import Credentials, sign
from devstack.ports import free_port
from tests.fakes import ScriptedServer

NOW = datetime(2026, 11, 24, 2, 30, 0, tzinfo=UTC)


def botocore_authorization(body: bytes, headers: dict[str, str], credentials: Credentials, host: str) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(method="POST", url=f"https://{host}/", data=body, headers=dict(headers))
    signer = SigV4Auth(BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token),
                       "dynamodb", "eu-west-1")  # fmt: skip
    with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token+with/slashes="])
def test_sign_matches_botocore(token: str | None) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = json.dumps({"TableName": "t", "Key": {"pk": {"S": "ünïcode  spaced"}}}).encode()
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.GetItem"}
    host = "dynamodb.eu-west-1.amazonaws.com"
    ours = sign(method="POST", host=host, path="/", headers=headers, body=body, credentials=credentials,
                region="eu-west-1", service="dynamodb", now=NOW)  # fmt: skip
    assert ours["authorization"] == botocore_authorization(body, headers, credentials, host)


def test_sign_aws_test_suite_get_vanilla() -> None:
    # The "get-vanilla" case of AWS's published SigV4 test suite.
    signed = sign(
        method="GET", host="example.amazonaws.com", path="/", headers={}, body=b"",
        credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
        region="us-east-1", service="service", now=datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC),
    )  # fmt: skip
    assert signed["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


class ScriptedDynamoDB(ScriptedServer):
    """Answers each request with the next scripted (status, document, crc override); keeps the JSON bodies."""

    def __init__(self, script: list[tuple[int, dict[str, Any], int | None]]) -> None:
        answers = []
        for status, document, crc in script:
            payload = json.dumps(document).encode()
            headers = {"Content-Type": "application/x-amz-json-1.0",
                       "x-amz-crc32": str(zlib.crc32(payload) if crc is None else crc)}  # fmt: skip
            answers.append((status, payload, headers))
        super().__init__(answers, decode=json.loads)


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[ScriptedDynamoDB] = []

    def start(*script: tuple[int, dict[str, Any], int | None]) -> tuple[ScriptedDynamoDB, DynamoDBClient]:
        server = ScriptedDynamoDB(list(script))
        servers.append(server)
        client = DynamoDBClient(region="us-east-1", endpoint_url=server.endpoint,
                                credentials=lambda: Credentials("AKID", "SECRET", "TOKEN"))  # fmt: skip
        return server, client

    yield start
    for server in servers:
        server.stop()


THROTTLED = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"}, None)
OK = (200, {"Item": {"pk": {"S": "a"}}}, None)


def test_client_sends_signed_json_request(scripted: Any) -> None:
    server, client = scripted(OK)
    assert client.get_item(TableName="t", Key={"pk": {"S": "a"}}) == {"Item": {"pk": {"S": "a"}}}
    sent = server.requests[0]
    assert sent["body"] == {"TableName": "t", "Key": {"pk": {"S": "a"}}}
    assert sent["headers"]["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert sent["headers"]["x-amz-security-token"] == "TOKEN"
    assert sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")


def test_client_retries_throttling_then_succeeds(scripted: Any) -> None:
    server, client = scripted(THROTTLED, THROTTLED, OK)
    assert client.get_item(TableName="t", Key={})["Item"]
    assert len(server.requests) == 3


def test_client_transaction_retries_carry_one_client_request_token(scripted: Any) -> None:
    server, client = scripted(THROTTLED, (200, {}, None), (200, {}, None))
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}])
    first, retry = (request["body"]["ClientRequestToken"] for request in server.requests)
    assert first == retry and len(first) == 32
    # Another transaction is another request: it gets its own token.
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}])
    assert server.requests[2]["body"]["ClientRequestToken"] != first


def test_client_gives_up_after_three_attempts(scripted: Any) -> None:
    server, client = scripted(THROTTLED, THROTTLED, THROTTLED)
    with pytest.raises(DynamoDBError) as raised:
        client.get_item(TableName="t", Key={})
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(server.requests) == 3


def test_client_does_not_retry_a_condition_failure(scripted: Any) -> None:
    failure = (
        400,
        {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"},
        None,
    )
    server, client = scripted(failure)
    with pytest.raises(DynamoDBError) as raised:
        client.put_item(TableName="t", Item={}, ConditionExpression="attribute_not_exists(pk)")
    assert is_condition_failure(raised.value)
    assert len(server.requests) == 1


def test_client_retries_server_errors(scripted: Any) -> None:
    server, client = scripted((500, {"__type": "InternalServerError"}, None), OK)
    assert client.query(TableName="t")["Item"]
    assert len(server.requests) == 2


def test_client_retries_a_corrupted_response(scripted: Any) -> None:
    server, client = scripted((200, {"Item": {"pk": {"S": "x"}}}, 12345), OK)
    assert client.get_item(TableName="t", Key={}) == {"Item": {"pk": {"S": "a"}}}
    assert len(server.requests) == 2


def test_client_unreachable_endpoint_raises_connection_error() -> None:

    port = free_port()
    client = DynamoDBClient(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                            credentials=lambda: Credentials("a", "b", None))  # fmt: skip
    with pytest.raises(DynamoDBConnectionError):
        client.get_item(TableName="t", Key={})


def test_client_unknown_method_is_attribute_error() -> None:
    client = DynamoDBClient(region="us-east-1", credentials=lambda: Credentials("a", "b", None))
    with pytest.raises(AttributeError):
        client.delete_table  # noqa: B018


def test_client_credentials_fall_back_to_botocore_chain(
    scripted: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    profile = tmp_path / "credentials"
    profile.write_text("[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.setenv("AWS_PROFILE", "ops")
    server, _ = scripted(OK)
    client = DynamoDBClient(region="us-east-1", endpoint_url=server.endpoint)
    client.get_item(TableName="t", Key={})
    assert "Credential=AKIDPROFILE/" in server.requests[0]["headers"]["authorization"]

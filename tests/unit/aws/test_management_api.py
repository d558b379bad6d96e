"""The management API client: SigV4 equal to botocore's for execute-api, paths, retries and error mapping."""

from __future__ import annotations

import unittest.mock
from datetime import UTC, datetime

import pytest

from alphapulse.aws.management_api import (
    GoneError,
    LimitExceededError,
    ManagementApiClient,
    ManagementApiError,
    MessageTooLargeError,
)
from alphapulse.aws.sigv4 import Credentials, sign
from devstack.ports import free_port
from tests.fakes import FakeManagementApi

NOW = datetime(2026, 11, 24, 2, 30, 0, tzinfo=UTC)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session/token+with=")


def botocore_authorization(method: str, url: str, body: bytes, headers: dict[str, str]) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(BotoCredentials(*CREDENTIALS), "execute-api", "eu-west-1")
    with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/prod/@connections/L0SM9cOFvHcCIhw%3D", b'{"type":"pong"}'),
        ("DELETE", "/prod/@connections/L0SM9cOFvHcCIhw%3D", b""),
        ("GET", "/@connections/abc%2Bdef", b""),
    ],
)
def test_sign_execute_api_matches_botocore(method: str, path: str, body: bytes) -> None:
    host = "abcdef1234.execute-api.eu-west-1.amazonaws.com"
    headers = {"content-type": "application/json"} if body else {}
    ours = sign(
        method=method,
        host=host,
        path=path,
        headers=headers,
        body=body,
        credentials=CREDENTIALS,
        region="eu-west-1",
        service="execute-api",
        now=NOW,
    )
    assert ours["authorization"] == botocore_authorization(method, f"https://{host}{path}", body, headers)


def client(endpoint: str, **kwargs: object) -> ManagementApiClient:
    return ManagementApiClient(
        endpoint=endpoint, region="us-east-1", credentials=lambda: CREDENTIALS, sleep=lambda _: None, **kwargs
    )


def test_client_posts_to_the_connection_under_the_stage(gateway: FakeManagementApi) -> None:
    api = client(gateway.endpoint)
    api.post_to_connection("L0SM9cOFvHcCIhw=", b'{"type":"pong"}')
    (call,) = gateway.calls
    assert (call.method, call.connection_id, call.body) == ("POST", "L0SM9cOFvHcCIhw=", b'{"type":"pong"}')
    assert call.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert call.headers["x-amz-security-token"] == CREDENTIALS.token


def test_client_keeps_the_stage_path_of_the_endpoint() -> None:
    api = client("https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev")
    sent: list[tuple[str, str]] = []
    with unittest.mock.patch.object(api, "_send", side_effect=lambda m, p, b: sent.append((m, p)) or (200, b"")):
        api.delete_connection("a=b")
    assert sent == [("DELETE", "/dev/@connections/a%3Db")]


def test_client_retries_throttling_then_succeeds(gateway: FakeManagementApi) -> None:
    gateway.scripts["c1"] = [429, 429]
    client(gateway.endpoint).post_to_connection("c1", b"{}")
    assert len(gateway.calls) == 3


def test_client_gives_up_on_persistent_throttling(gateway: FakeManagementApi) -> None:
    gateway.scripts["c1"] = [429] * 10
    with pytest.raises(LimitExceededError):
        client(gateway.endpoint, max_attempts=3).post_to_connection("c1", b"{}")
    assert len(gateway.calls) == 3


def test_client_retries_server_errors(gateway: FakeManagementApi) -> None:
    gateway.scripts["c1"] = [500, 503]
    client(gateway.endpoint).post_to_connection("c1", b"{}")
    assert len(gateway.calls) == 3


@pytest.mark.parametrize(
    ("status", "error"), [(410, GoneError), (413, MessageTooLargeError), (403, ManagementApiError)]
)
def test_client_does_not_retry_final_answers(gateway: FakeManagementApi, status: int, error: type[Exception]) -> None:
    gateway.scripts["c1"] = [status]
    with pytest.raises(error) as raised:
        client(gateway.endpoint).post_to_connection("c1", b"{}")
    assert len(gateway.calls) == 1
    assert raised.value.status == status  # type: ignore[attr-defined]


def test_client_get_connection_returns_the_document(gateway: FakeManagementApi) -> None:
    client(gateway.endpoint).get_connection("c1")
    assert gateway.calls[0].method == "GET"
    gateway.closed.add("c2")
    with pytest.raises(GoneError):
        client(gateway.endpoint).get_connection("c2")


def test_client_unreachable_endpoint_raises_after_retries() -> None:

    port = free_port()
    with pytest.raises(ManagementApiError) as raised:
        client(f"http://127.0.0.1:{port}", timeout=0.5).post_to_connection("c1", b"{}")
    assert raised.value.status == 0


def test_client_reuses_one_connection_per_thread(gateway: FakeManagementApi) -> None:
    api = client(gateway.endpoint)
    for _ in range(5):
        api.post_to_connection("c1", b"{}")
    assert len(gateway.calls) == 5
    assert api._endpoint.connection() is api._endpoint.connection()

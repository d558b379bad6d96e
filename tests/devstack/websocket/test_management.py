"""The connection management API (POST, GET, DELETE /@connections/{id}) through boto3 and plain HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from devstack.gateways.websocket import MAX_MESSAGE_BYTES, parse_faults
from tests.devstack.websocket.conftest import Gateway, serve


@pytest.mark.parametrize("suffix", ["", "/local"])
def test_post_to_connection_reaches_the_client_as_text_or_binary(echo_api: Gateway, suffix: str) -> None:
    api = echo_api.management(suffix)
    with echo_api.client() as (websocket, connection_id):
        assert "=" in connection_id  # shaped like AWS's ids: the SDK must URL-encode it, and it does
        api.post_to_connection(ConnectionId=connection_id, Data="grüße".encode())
        assert websocket.recv(timeout=5) == "grüße"
        api.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00binary")
        assert websocket.recv(timeout=5) == b"\xff\x00binary"
        api.post_to_connection(ConnectionId=connection_id, Data=b"m" * MAX_MESSAGE_BYTES)
        assert websocket.recv(timeout=5) == "m" * MAX_MESSAGE_BYTES


def test_post_above_128_kb_is_payload_too_large(echo_api: Gateway) -> None:
    api = echo_api.management()
    with echo_api.client() as (websocket, connection_id):
        for size in (MAX_MESSAGE_BYTES + 1, 3 * MAX_MESSAGE_BYTES):
            with pytest.raises(api.exceptions.PayloadTooLargeException):
                api.post_to_connection(ConnectionId=connection_id, Data=b"m" * size)
        api.post_to_connection(ConnectionId=connection_id, Data=b"still open")
        assert websocket.recv(timeout=5) == "still open"


def test_unknown_and_closed_connections_are_gone(echo_api: Gateway) -> None:
    api = echo_api.management()
    with echo_api.client() as (_, connection_id):
        pass
    echo_api.functions.of(connection_id, "$disconnect")
    for unknown in (connection_id, "AAAAAAAAAAAAAAA="):
        with pytest.raises(api.exceptions.GoneException) as gone:
            api.post_to_connection(ConnectionId=unknown, Data=b"x")
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
        with pytest.raises(api.exceptions.GoneException):
            api.get_connection(ConnectionId=unknown)
        with pytest.raises(api.exceptions.GoneException):
            api.delete_connection(ConnectionId=unknown)


def test_get_connection_reports_times_and_identity(echo_api: Gateway) -> None:
    api = echo_api.management("/local")
    opened = datetime.now(UTC)
    with echo_api.client() as (websocket, connection_id):
        first = api.get_connection(ConnectionId=connection_id)
        time.sleep(0.01)  # times have millisecond precision: make the message's visibly later
        websocket.send('{"action": "echo"}')
        websocket.recv(timeout=5)
        second = api.get_connection(ConnectionId=connection_id)
    assert first["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": first["Identity"]["UserAgent"]}
    assert first["Identity"]["UserAgent"].startswith("Python/")  # the websockets client's
    assert abs(first["ConnectedAt"] - opened) < timedelta(seconds=2)
    assert first["LastActiveAt"] == first["ConnectedAt"] == second["ConnectedAt"]
    assert second["LastActiveAt"] > first["LastActiveAt"]  # a client message is activity


def test_delete_connection_closes_it_and_fires_disconnect(echo_api: Gateway) -> None:
    api = echo_api.management()
    with echo_api.client() as (websocket, connection_id):
        response = api.delete_connection(ConnectionId=connection_id)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(api.exceptions.GoneException):  # gone at once, before the close handshake ends
            api.post_to_connection(ConnectionId=connection_id, Data=b"x")
        with pytest.raises(api.exceptions.GoneException):
            api.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            websocket.recv(timeout=5)
        context = echo_api.functions.of(connection_id, "$disconnect")["requestContext"]
    assert context["disconnectStatusCode"] == 1000
    assert connection_id not in echo_api.gateway.connections
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"x")


def test_concurrent_posts_to_one_connection_all_arrive(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):

        def post(worker: int) -> None:
            api = echo_api.management()
            for n in range(20):
                api.post_to_connection(ConnectionId=connection_id, Data=f"{worker}:{n}".encode())

        workers = [threading.Thread(target=post, args=(w,)) for w in range(4)]
        for worker in workers:
            worker.start()
        received = [websocket.recv(timeout=5) for _ in range(80)]
        for worker in workers:
            worker.join()
    assert sorted(received) == sorted(f"{w}:{n}" for w in range(4) for n in range(20))
    for w in range(4):  # each sender's own posts keep their order
        assert [m for m in received if str(m).startswith(f"{w}:")] == [f"{w}:{n}" for n in range(20)]


def test_a_wrong_stage_or_path_is_forbidden(echo_api: Gateway) -> None:
    with echo_api.client() as (_, connection_id):
        api = echo_api.management("/prod")
        with pytest.raises(api.exceptions.ForbiddenException):
            api.post_to_connection(ConnectionId=connection_id, Data=b"x")
        assert httpx.post(f"{echo_api.endpoint}/local/elsewhere/{connection_id}", content=b"x").status_code == 403


def test_an_enforced_signature_refuses_unsigned_and_badly_signed_calls() -> None:
    keys = {"local": "local"}
    with serve("ws_app.yaml", signing_keys=keys) as gateway, gateway.client() as (websocket, connection_id):
        url = f"{gateway.endpoint}/@connections/{connection_id}"
        refused = {
            "unsigned": httpx.post(url, content=b"x"),
            "not SigV4": httpx.delete(url, headers={"Authorization": "Bearer abc"}),
            "any AWS4 header": httpx.post(url, content=b"x", headers={"Authorization": "AWS4-HMAC-SHA256 x"}),
        }
        for name, api in {
            "wrong secret": gateway.management(secret_key="not-local"),
            "unknown key": gateway.management(access_key="someone", secret_key="local"),
        }.items():
            with pytest.raises(api.exceptions.ClientError) as refusal:
                api.post_to_connection(ConnectionId=connection_id, Data=b"x")
            refused[name] = refusal.value.response
        statuses = {name: getattr(reply, "status_code", None) or reply["ResponseMetadata"]["HTTPStatusCode"]
                    for name, reply in refused.items()}  # fmt: skip
        assert set(statuses.values()) == {403}, statuses
        assert refused["wrong secret"]["Error"]["Code"] == "InvalidSignatureException"
        assert refused["unknown key"]["Error"]["Code"] == "UnrecognizedClientException"
        assert connection_id in gateway.gateway.connections
        gateway.management().post_to_connection(ConnectionId=connection_id, Data=b"signed")  # boto3 signs
        assert websocket.recv(timeout=5) == "signed"


def test_a_signed_request_whose_body_was_changed_is_refused() -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with serve("ws_app.yaml", signing_keys={"local": "local"}) as gateway, gateway.client() as (_, connection_id):
        url = f"{gateway.endpoint}/@connections/{connection_id}"
        request = AWSRequest(method="POST", url=url, data=b"signed body")
        SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
        assert httpx.post(url, content=b"other body", headers=headers).status_code == 403
        assert httpx.post(url, content=b"signed body", headers=headers).status_code == 200


def test_signatures_are_not_checked_by_default(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        assert httpx.post(f"{echo_api.endpoint}/@connections/{connection_id}", content=b"plain").status_code == 200
        assert websocket.recv(timeout=5) == "plain"


def test_injected_throttling_answers_429_to_that_share_of_posts() -> None:
    with serve("ws_app.yaml", faults={"connections-429": 1.0}) as gateway:
        api = gateway.management()
        with gateway.client() as (_, connection_id):
            with pytest.raises(api.exceptions.LimitExceededException) as throttled:
                api.post_to_connection(ConnectionId=connection_id, Data=b"x")
            assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with serve("ws_app.yaml", faults={"connections-429": 0.0}) as gateway:
        api = gateway.management()
        with gateway.client() as (websocket, connection_id):
            api.post_to_connection(ConnectionId=connection_id, Data=b"x")
            assert websocket.recv(timeout=5) == "x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("connections-429:0.2", {"connections-429": 0.2}),
        ("connections-429:0.2, connections-500:0.05", {"connections-429": 0.2, "connections-500": 0.05}),
    ],
)
def test_faults_are_read_from_their_setting(text: str, expected: dict[str, float]) -> None:
    assert parse_faults(text) == expected


@pytest.mark.parametrize(
    "text", ["connections-418:0.1", "connections-429:1.5", "connections-429:0.7,connections-500:0.7"]
)
def test_unknown_or_impossible_faults_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"fault|share"):
        parse_faults(text)

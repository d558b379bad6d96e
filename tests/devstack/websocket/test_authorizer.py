"""A REQUEST authorizer on $connect: allow, deny, 401s, errors, and its context on every later event."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.devstack.websocket.conftest import Gateway


def test_an_allowed_connection_carries_the_authorizer_context_on_every_event(guarded_api: Gateway) -> None:
    expected = {"user": "alice", "tier": 3, "admin": False, "principalId": "user-alice"}
    with guarded_api.client("/dev", token="alice") as (websocket, connection_id):
        websocket.send('{"meta": {"kind": "whoami"}}')
        assert json.loads(websocket.recv(timeout=5))["authorizer"] == expected
        invoked = guarded_api.functions.find(lambda _, e: e["requestContext"]["connectionId"] == connection_id)
    assert [function for function, _ in invoked] == ["AuthorizerFunction", "ConnectFunction", "EchoFunction"]
    (_, authorize), (_, connected), (_, message) = invoked
    assert connected["requestContext"]["authorizer"] == message["requestContext"]["authorizer"] == expected
    assert authorize["type"] == "REQUEST" and authorize["queryStringParameters"]["token"] == "alice"
    assert authorize["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/dev/$connect"
    assert "authorizer" not in authorize["requestContext"] and "type" not in connected


@pytest.mark.parametrize(
    ("token", "status"),
    [("deny", 403), ("unauthorized", 401), ("boom", 500), ("nested", 500)],
)
def test_a_refusing_or_failing_authorizer_refuses_the_upgrade(guarded_api: Gateway, token: str, status: int) -> None:
    tag = uuid.uuid4().hex
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{guarded_api.url}/dev?token={token}&tag={tag}", open_timeout=5)
    assert refused.value.response.status_code == status
    # The $connect route's own function never runs for a refused connection.
    invoked = guarded_api.functions.find(lambda _, e: (e.get("queryStringParameters") or {}).get("tag") == tag)
    assert [function for function, _ in invoked] == ["AuthorizerFunction"]
    assert guarded_api.gateway.connection_count == 0


def test_a_missing_identity_source_is_401_without_calling_the_authorizer(guarded_api: Gateway) -> None:
    tag = uuid.uuid4().hex
    for query in (f"tag={tag}", f"token=&tag={tag}"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{guarded_api.url}/dev?{query}", open_timeout=5)
        assert refused.value.response.status_code == 401
    assert not guarded_api.functions.find(lambda _, e: (e.get("queryStringParameters") or {}).get("tag") == tag)

"""Messages: route selection, $default, the MESSAGE event, error frames, route responses, order and size."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from devstack.gateways.websocket import MAX_MESSAGE_BYTES
from tests.conftest import raw_websocket
from tests.devstack.websocket.conftest import Gateway


def answer(websocket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(websocket.recv(timeout=5))
    return message


def test_message_event_has_api_gateways_shape(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.send('{"action": "echo", "n": 1}')
        assert answer(websocket)["route"] == "echo"
        event = echo_api.functions.of(connection_id, "echo")
        connected = echo_api.functions.of(connection_id, "$connect")["requestContext"]
    assert event == {"requestContext": event["requestContext"], "body": '{"action": "echo", "n": 1}',
                     "isBase64Encoded": False}  # fmt: skip
    context = event["requestContext"]
    assert set(context) == {"routeKey", "messageId", "eventType", "extendedRequestId", "requestTime",
                            "messageDirection", "stage", "connectedAt", "requestTimeEpoch", "identity", "requestId",
                            "domainName", "connectionId", "apiId"}  # fmt: skip
    assert (context["eventType"], context["messageDirection"], context["stage"]) == ("MESSAGE", "IN", "local")
    assert context["identity"] == {"sourceIp": "127.0.0.1"}
    assert context["connectedAt"] == connected["connectedAt"] and context["messageId"] != context["requestId"]
    assert context["requestTimeEpoch"] >= connected["requestTimeEpoch"]
    assert "authorizer" not in context  # no authorizer on this API


@pytest.mark.parametrize(
    ("frame", "route"),
    [
        ('{"action": "echo"}', "echo"),
        ("not json", "$default"),
        ('{"n": 1}', "$default"),
        ('{"action": "dance"}', "$default"),
        ('{"action": ["echo"]}', "$default"),
        ("[]", "$default"),
    ],
)
def test_messages_select_their_route_or_default(echo_api: Gateway, frame: str, route: str) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.send(frame)
        assert answer(websocket)["route"] == route
        assert echo_api.functions.of(connection_id, route)["body"] == frame


def test_a_message_nested_deeper_than_json_parses_goes_to_default_and_the_connection_answers_on(
    echo_api: Gateway,
) -> None:
    deep = '{"action":' * 3000 + '"echo"' + "}" * 3000
    with echo_api.client() as (websocket, connection_id):
        websocket.send(deep)
        # The gateway routes it to $default (the fixture function then fails to parse it: a function error)
        assert echo_api.functions.of(connection_id, "$default")["body"] == deep
        assert answer(websocket)["message"] == "Internal server error"
        websocket.send('{"action": "echo", "n": 3}')
        assert answer(websocket)["n"] == 3


def test_a_binary_message_reaches_default_base64_encoded(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.send(b"\x00\xff{")
        assert answer(websocket)["route"] == "$default"
        event = echo_api.functions.of(connection_id, "$default")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff{"


def test_without_a_default_route_an_unroutable_message_gets_a_forbidden_frame(guarded_api: Gateway) -> None:
    with guarded_api.client("/dev", token="alice") as (websocket, connection_id):
        for frame in ('{"meta": {"kind": "nothing"}}', "plain text", '{"action": "whoami"}'):
            websocket.send(frame)
            reply = answer(websocket)
            assert reply["message"] == "Forbidden" and reply["connectionId"] == connection_id, reply
            assert reply["requestId"]
        websocket.send('{"meta": {"kind": "whoami"}}')
        assert answer(websocket)["route"] == "whoami"  # still connected


def test_a_function_error_sends_internal_server_error_and_keeps_the_connection(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.send('{"action": "fail"}')
        reply = answer(websocket)
        event = echo_api.functions.of(connection_id, "fail")
        assert reply == {"message": "Internal server error", "connectionId": connection_id,
                         "requestId": event["requestContext"]["requestId"]}  # fmt: skip
        websocket.send('{"action": "echo", "n": 2}')
        assert answer(websocket)["n"] == 2


def test_only_a_route_with_a_route_response_sends_the_integrations_body(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, _):
        websocket.send('{"action": "reply", "n": 5}')
        assert answer(websocket) == {"reply": 5}
        websocket.send('{"action": "echo", "n": 6}')  # returns a body too, which must not be sent
        assert answer(websocket)["n"] == 6
        websocket.send('{"action": "reply", "n": 7}')
        assert answer(websocket) == {"reply": 7}


def test_one_connections_messages_are_dispatched_in_order(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, _), echo_api.client() as (other, _):
        for n in range(40):
            websocket.send(json.dumps({"action": "echo", "n": n}))
            other.send(json.dumps({"action": "reply", "n": n}))
        assert [answer(websocket)["n"] for _ in range(40)] == list(range(40))
        assert [answer(other)["reply"] for _ in range(40)] == list(range(40))


def test_a_message_over_128_kb_gets_an_error_frame_and_the_connection_stays(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.send("x" * (MAX_MESSAGE_BYTES + 1))
        reply = answer(websocket)
        assert reply["message"] == "Message too long" and reply["connectionId"] == connection_id
        websocket.send("ü" * (MAX_MESSAGE_BYTES // 2 + 1))  # counted in UTF-8 bytes, not characters
        assert answer(websocket)["message"] == "Message too long"
        websocket.send(b"\x00" * 200_000)
        assert answer(websocket)["message"] == "Message too long"
        assert not echo_api.functions.find(lambda _, e: e["requestContext"]["connectionId"] == connection_id
                                           and e["requestContext"]["eventType"] == "MESSAGE")  # fmt: skip
        websocket.send("y" * MAX_MESSAGE_BYTES)  # exactly the limit is delivered
        assert answer(websocket) == {"route": "$default", "n": None, "length": MAX_MESSAGE_BYTES,
                                     "connectionId": connection_id, "authorizer": None}  # fmt: skip


def test_a_message_above_the_4_mb_buffer_closes_the_connection_with_1009(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        with pytest.raises(ConnectionClosed) as closed:  # while still sending, or at the next receive
            websocket.send("x" * (4 * 1024 * 1024 + 1))
            websocket.recv(timeout=5)
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009  # None: reset before it was read
        context = echo_api.functions.of(connection_id, "$disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1009, "Message too big")


HOSTILE_FRAMES = {
    "unmasked": bytes([0x81, 0x02]) + b"hi",  # a client's frames must be masked
    "reserved opcode": bytes([0x83, 0x80]) + os.urandom(4),
    "invalid UTF-8 text": bytes([0x81, 0x82]) + b"\x00\x00\x00\x00" + b"\xc3\x28",
    "length of 2**63": bytes([0x82, 0xFF]) + (2**63 - 1).to_bytes(8, "big") + os.urandom(4),
    "fragmented control frame": bytes([0x09, 0x80]) + os.urandom(4),
    "garbage": os.urandom(64),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FRAMES))
def test_the_gateway_survives_a_hostile_frame_and_serves_the_next_client(echo_api: Gateway, name: str) -> None:
    with raw_websocket(echo_api.url, "tag=hostile") as sock:
        sock.sendall(HOSTILE_FRAMES[name])
        with contextlib.suppress(OSError):  # the gateway closes it (1002/1007/1009), or resets it
            while sock.recv(4096):
                pass
    with echo_api.client() as (websocket, _):
        websocket.send('{"action": "echo", "n": 2}')
        assert answer(websocket)["route"] == "echo"

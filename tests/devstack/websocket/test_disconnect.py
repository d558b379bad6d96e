"""$disconnect: client close, TCP drop, DELETE, idle and maximum lifetime, and the gateway stopping."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed

from devstack.gateways.websocket import WebSocketGateway
from tests.devstack.websocket.conftest import Gateway, serve


def test_disconnect_event_on_a_client_close_frame(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.close(code=4001, reason="user left")
    event = echo_api.functions.of(connection_id, "$disconnect")
    context = event["requestContext"]
    assert (context["eventType"], context["disconnectStatusCode"], context["disconnectReason"]) == (
        "DISCONNECT", 4001, "user left")  # fmt: skip
    assert set(context) >= {"routeKey", "extendedRequestId", "requestTime", "messageDirection", "stage", "identity",
                            "connectedAt", "requestTimeEpoch", "requestId", "domainName", "apiId"}  # fmt: skip
    assert event["headers"]["Host"] == context["domainName"] and event["isBase64Encoded"] is False
    assert connection_id not in echo_api.gateway.connections


def test_disconnect_event_on_a_close_frame_without_a_status(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.socket.sendall(b"\x88\x80\x00\x00\x00\x00")  # a masked close frame with no payload
    context = echo_api.functions.of(connection_id, "$disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
        1005, "Client-side close frame status not set")  # fmt: skip


def test_disconnect_event_when_the_tcp_connection_just_ends(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        websocket.socket.shutdown(socket.SHUT_RDWR)
        event = echo_api.functions.of(connection_id, "$disconnect")
    assert event["requestContext"]["disconnectStatusCode"] == 1006
    assert connection_id not in echo_api.gateway.connections


def test_delete_from_within_the_connections_own_function_closes_it(echo_api: Gateway) -> None:
    # The function is still running when its DELETE is answered: no deadlock, $disconnect follows.
    with echo_api.client() as (websocket, connection_id):
        websocket.send('{"action": "hangup"}')
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        context = echo_api.functions.of(connection_id, "$disconnect")["requestContext"]
    assert context["disconnectStatusCode"] == 1000


def test_disconnect_comes_after_every_message_received_before_the_close(echo_api: Gateway) -> None:
    with echo_api.client() as (websocket, connection_id):
        for n in range(5):
            websocket.send(f'{{"action": "reply", "n": {n}}}')
    echo_api.functions.of(connection_id, "$disconnect")
    events = echo_api.functions.find(lambda _, e: e["requestContext"]["connectionId"] == connection_id)
    assert [e["requestContext"]["routeKey"] for _, e in events] == ["$connect"] + ["reply"] * 5 + ["$disconnect"]
    assert [e.get("body") for _, e in events[1:-1]] == [f'{{"action": "reply", "n": {n}}}' for n in range(5)]


def test_an_idle_connection_closes_after_the_idle_timeout_and_activity_defers_it() -> None:
    with serve("ws_app.yaml", idle_timeout=0.8) as api, api.client() as (websocket, connection_id):
        started = time.monotonic()
        for n in range(3):  # each message restarts the idle clock
            time.sleep(0.3)
            websocket.send(f'{{"action": "echo", "n": {n}}}')
            assert websocket.recv(timeout=5)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
        assert time.monotonic() - started >= 0.9 + 0.8 - 0.05
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        context = api.functions.of(connection_id, "$disconnect")["requestContext"]
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")
        assert api.gateway.connection_count == 0


def test_a_busy_connection_closes_at_its_maximum_lifetime() -> None:
    with serve("ws_app.yaml", idle_timeout=60, max_lifetime=1.0) as api, api.client() as (websocket, connection_id):
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while True:
                websocket.send('{"action": "echo"}')
                websocket.recv(timeout=5)
                time.sleep(0.1)
        assert 0.9 <= time.monotonic() - started < 3
        assert api.functions.of(connection_id, "$disconnect")["requestContext"]["disconnectStatusCode"] == 1001


def gateway_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("ws-")}


def test_stop_closes_every_connection_with_its_disconnect_and_leaves_no_thread() -> None:
    before = gateway_threads()
    with serve("ws_app.yaml") as api, ExitStack() as clients:
        opened = [clients.enter_context(api.client()) for _ in range(3)]
        assert api.gateway.connection_count == 3
        api.gateway.stop()
        for websocket, connection_id in opened:
            with pytest.raises(ConnectionClosed):
                websocket.recv(timeout=5)
            context = api.functions.of(connection_id, "$disconnect", timeout=0)["requestContext"]
            assert context["disconnectStatusCode"] == 1001
        assert gateway_threads() == before
        api.gateway.stop()  # a second stop is harmless


def test_start_on_a_taken_port_raises_and_leaves_no_thread(echo_api: Gateway) -> None:
    before = gateway_threads()
    taken = WebSocketGateway(echo_api.gateway.api, echo_api.functions.invoke, port=echo_api.gateway.port)
    with pytest.raises(OSError):
        taken.start()
    assert gateway_threads() == before

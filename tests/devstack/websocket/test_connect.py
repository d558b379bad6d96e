"""$connect: the event, accepting and refusing the upgrade, and what stays registered."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.devstack.websocket.conftest import Gateway

AWS_ID = re.compile(r"[A-Za-z0-9_-]{15}=")


def test_connect_event_has_api_gateways_shape(echo_api: Gateway) -> None:
    before = int(time.time() * 1000)
    url = f"{echo_api.url}/local?a=1&a=2&b=x%20y&tag=shape"
    with connect(url, open_timeout=5, user_agent_header="shape-test/1", additional_headers={"X-Custom": "v"}):
        event = echo_api.functions.of(echo_api.connection_id("shape"), "$connect")
    assert set(event) == {"headers", "multiValueHeaders", "queryStringParameters",
                          "multiValueQueryStringParameters", "requestContext", "isBase64Encoded"}  # fmt: skip
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "tag": "shape"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "tag": ["shape"]}
    assert event["headers"]["User-Agent"] == "shape-test/1" and event["headers"]["X-Custom"] == "v"
    assert event["headers"]["Sec-WebSocket-Version"] == "13" and event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert set(context) == {"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage",
                            "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId",
                            "apiId"}  # fmt: skip
    assert (context["routeKey"], context["eventType"], context["messageDirection"]) == ("$connect", "CONNECT", "IN")
    assert context["stage"] == "local" and context["domainName"] == f"127.0.0.1:{echo_api.gateway.port}"
    assert context["identity"] == {"userAgent": "shape-test/1", "sourceIp": "127.0.0.1"}
    assert AWS_ID.fullmatch(context["connectionId"]) and AWS_ID.fullmatch(context["requestId"])
    assert before <= context["connectedAt"] <= context["requestTimeEpoch"] <= time.time() * 1000
    assert re.fullmatch(r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])


def test_connect_without_a_query_string_has_no_query_fields(echo_api: Gateway) -> None:
    before = len(echo_api.functions.events)
    with connect(echo_api.url, open_timeout=5):
        (event,) = [e for _, e in echo_api.functions.events[before:] if e["requestContext"]["routeKey"] == "$connect"]
    assert "queryStringParameters" not in event and "multiValueQueryStringParameters" not in event


@pytest.mark.parametrize("status", [401, 403, 429])
def test_connect_refused_with_the_functions_status_registers_nothing(echo_api: Gateway, status: int) -> None:
    tag = uuid.uuid4().hex
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{echo_api.url}?deny={status}&tag={tag}", open_timeout=5)
    assert refused.value.response.status_code == status
    connection_id = echo_api.connection_id(tag)
    assert connection_id not in echo_api.gateway.connections
    with pytest.raises(echo_api.management().exceptions.GoneException):
        echo_api.management().get_connection(ConnectionId=connection_id)
    time.sleep(0.2)  # a $disconnect would come at once; there must be none for a refused connection
    assert not echo_api.functions.find(lambda _, e: e["requestContext"]["connectionId"] == connection_id
                                       and e["requestContext"]["routeKey"] == "$disconnect")  # fmt: skip


@pytest.mark.parametrize("query", ["fail=1", "malformed=1"])
def test_connect_function_failing_or_malformed_is_a_502(echo_api: Gateway, query: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{echo_api.url}?{query}", open_timeout=5)
    assert refused.value.response.status_code == 502


def test_posting_during_connect_is_gone_and_the_connection_opens_after(echo_api: Gateway) -> None:
    # The fixture answers 500 unless its own post_to_connection raised GoneException.
    with echo_api.client(selfpost="1") as (websocket, connection_id):
        assert connection_id in echo_api.gateway.connections
        echo_api.management().post_to_connection(ConnectionId=connection_id, Data=b"now")
        assert websocket.recv(timeout=5) == "now"


def test_connect_accepts_the_subprotocol_the_function_returns(echo_api: Gateway) -> None:
    with connect(f"{echo_api.url}?protocol=chat.v1", subprotocols=["chat.v1"], open_timeout=5) as websocket:
        assert websocket.subprotocol == "chat.v1"


def test_connect_only_at_the_root_or_the_stage(echo_api: Gateway) -> None:
    with echo_api.client("/local") as (_, connection_id):
        assert connection_id in echo_api.gateway.connections
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{echo_api.url}/prod", open_timeout=5)
    assert refused.value.response.status_code == 403
    assert httpx.get(echo_api.endpoint).status_code == 426  # a plain GET is no upgrade

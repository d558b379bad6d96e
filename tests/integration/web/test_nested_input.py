"""Deeply nested JSON (3,000 levels) never gets a 5xx or crashes a handler: every REST route, WebSocket
frames, bus events and SNS messages refuse it with a clear 4xx, an error frame or an invalid-event reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alphapulse.core import inputs
from alphapulse.ingest.models.alerts import parse_alert_messages
from alphapulse.ingest.models.checks import InvalidEventError
from alphapulse.ingest.models.trading import parse_trading_event
from alphapulse.realtime.protocol import FrameError, parse_frame
from tests.conftest import eventbridge, load_event, login, sns
from tests.integration.web.test_permission_matrix import PUBLIC, ROUTES, client_for

DEPTH = 3000
DEEP_ARRAY = "[" * DEPTH + "]" * DEPTH
DEEP_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH


def nested(depth: int) -> Any:
    document: Any = 1
    for _ in range(depth):
        document = {"a": [document]}
    return document


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("content_type", ["application/json", None], ids=["json", "no-content-type"])
@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES] + PUBLIC)
def test_rest_route_refuses_deep_json_with_a_4xx(
    demo_users: object, method: str, path: str, body: str, content_type: str | None
) -> None:
    client = client_for(path)
    token = login(client_for("/api/v1/auth/me"), "admin")["access_token"]
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client.request(method, path, token=token, body=body.encode(), headers=headers)
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_login_refuses_deep_json_with_422(demo_users: object, body: str) -> None:
    client = client_for("/api/v1/auth/token")
    reply = client.request(
        "POST", "/api/v1/auth/token", body=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 422
    assert "nested deeper than 64" in reply.body.decode()


def test_json_nested_to_the_limit_is_parsed_and_one_more_level_is_not() -> None:
    assert inputs.loads("[" * inputs.MAX_DEPTH + "]" * inputs.MAX_DEPTH) is not None
    with pytest.raises(inputs.TooDeepError):
        inputs.loads("[" * (inputs.MAX_DEPTH + 1) + "]" * (inputs.MAX_DEPTH + 1))
    # Brackets inside strings are text, not nesting.
    assert inputs.loads(json.dumps({"s": "[" * 5000})) == {"s": "[" * 5000}


@pytest.mark.parametrize("frame", [DEEP_ARRAY, DEEP_OBJECT, '{"action":"subscribe","channels":' + DEEP_ARRAY + "}"])
def test_websocket_frame_nested_too_deep_is_a_bad_request(frame: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(frame)
    assert refused.value.code == "bad_request" and "nested deeper" in refused.value.message


def test_bus_event_nested_too_deep_is_invalid_with_its_reason() -> None:
    detail = load_event("ingest-trade-executed")["detail"]
    detail["strategy"] = nested(DEPTH)
    with pytest.raises(InvalidEventError, match="nested deeper than 64"):
        parse_trading_event(eventbridge("TradeExecuted", detail))


def test_sns_message_nested_too_deep_is_invalid_with_its_reason() -> None:
    with pytest.raises(InvalidEventError, match="record 0: the message is JSON nested deeper than 64"):
        parse_alert_messages(sns(DEEP_OBJECT))
    with pytest.raises(InvalidEventError, match="nested deeper than 64"):
        parse_alert_messages(sns('{"message": "m", "labels": ' + DEEP_OBJECT + "}"))
    # and an SNS event that is itself nested too deep (as Lambda hands it over, already parsed)
    event = sns({"message": "m"})
    event["Records"][0]["Sns"]["MessageAttributes"] = nested(DEPTH)
    with pytest.raises(InvalidEventError, match="event is JSON nested deeper than 64"):
        parse_alert_messages(event)

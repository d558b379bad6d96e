"""Every canned event in events/ is a valid API Gateway event that its function answers with success."""

from __future__ import annotations

import json

import pytest

from devstack.gateways.rest import response_body
from devstack.runtime.handlers import LambdaContext
from tests.conftest import EVENTS, RestClient, load_event, login

AUTH_EVENTS = sorted(path.stem for path in EVENTS.glob("auth-*.json"))
EXPECTED_STATUS = {"auth-logout": 204}


def test_every_auth_route_has_an_event() -> None:
    assert {
        "auth-token",
        "auth-token-json",
        "auth-refresh",
        "auth-logout",
        "auth-me",
        "auth-ws-ticket",
    } <= set(AUTH_EVENTS)


@pytest.mark.parametrize("name", AUTH_EVENTS)
def test_auth_event_is_answered(auth_api: RestClient, demo_users: object, name: str) -> None:
    tokens = login(auth_api, "trader")
    event = load_event(name, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])
    assert "{{" not in json.dumps(event)
    assert event["requestContext"]["resourcePath"] == event["resource"] == "/api/v1/auth/{proxy+}"
    response = auth_api.handler(event, LambdaContext("auth"))
    assert response["statusCode"] == EXPECTED_STATUS.get(name, 200), response_body(response)


def test_auth_event_with_placeholder_token_is_refused(auth_api: RestClient) -> None:
    # Unfilled, the placeholder is not a token: the function says 401, it does not crash.
    response = auth_api.handler(load_event("auth-me"), LambdaContext("auth"))
    assert response["statusCode"] == 401

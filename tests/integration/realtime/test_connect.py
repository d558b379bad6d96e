"""$connect and $disconnect through the ws_connection handler, on moto: credentials, refusals, stored rows."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import jwt
import pytest

from alphapulse.auth.logic.tokens import ticket_digest
from alphapulse.auth.models import permissions_of
from alphapulse.auth.repositories import TicketRepository
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository
from devstack.runtime.handlers import LambdaContext, load_handler
from tests.conftest import TEST_SECRET, load_event, token_claims
from tests.integration.realtime.conftest import access_token, table_items

CONNECTION_ID = "L0SM9cOFvHcCIhw="


def call(event: dict[str, Any]) -> dict[str, Any]:
    return load_handler("functions/ws_connection")(event, LambdaContext("ws-connection"))


def connect_event(query: dict[str, str] | None) -> dict[str, Any]:
    event = load_event("ws-connect")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    return event


def issue_ticket(
    aws: dict[str, str], role: str = "trader", *, tenant: str = "default", ttl: int = 60, **grant: Any
) -> str:
    value = uuid.uuid4().hex
    now = int(time.time())
    base = {
        "username": f"{tenant}-{role}",
        "tenant_id": tenant,
        "role": role,
        "permissions": permissions_of(role),
        "token_expires_at": now + 900,
        "issued_at": now,
    }
    TicketRepository(aws["AuthTable"]).put(ticket_digest(value), {**base, **grant}, expires_at=now + ttl)
    return value


def claims_token(key: str = TEST_SECRET, **overrides: Any) -> str:
    return jwt.encode(token_claims(username="default-trader", **overrides), key, algorithm="HS256")


def connection_rows(aws: dict[str, str]) -> list[dict[str, Any]]:
    return [item for item in table_items(aws["ConnectionsTable"]) if item["pk"].startswith("CONN#")]


def test_connect_with_token_stores_the_connection(realtime: dict[str, str]) -> None:
    token = access_token("trader")
    claims = jwt.decode(token, options={"verify_signature": False})
    before = int(time.time())
    response = call(load_event("ws-connect", access_token=token))
    assert response["statusCode"] == 200
    (row,) = connection_rows(realtime)
    assert row["connection_id"] == CONNECTION_ID and row["tenant_id"] == "default"
    assert row["username"] == "default-trader" and set(row["permissions"]) == set(permissions_of("trader"))
    assert row["token_expires_at"] == claims["exp"]
    assert before <= row["connected_at"] <= int(time.time())
    assert row["expires_at"] == claims["exp"]  # 15 minutes: sooner than connect + 2 h
    assert row["gsi1pk"] == "T#default#CONNECTIONS"
    items = table_items(realtime["ConnectionsTable"], listings=True)
    (listed,) = [item for item in items if item["pk"] == "CONNECTED_TENANTS"]
    assert (listed["sk"], listed["tenant_id"]) == ("T#default", "default")
    assert listed["expires_at"] == row["connected_at"] + 86400
    assert ConnectionRepository(realtime["ConnectionsTable"]).count_live("default", int(time.time())) == 1


def test_connect_lifetime_is_capped_at_two_hours(realtime: dict[str, str]) -> None:
    token = claims_token(exp=int(time.time()) + 5 * 3600)
    assert call(connect_event({"token": token}))["statusCode"] == 200
    (row,) = connection_rows(realtime)
    assert row["expires_at"] == row["connected_at"] + 7200


def test_connect_with_ticket_consumes_it_once(realtime: dict[str, str]) -> None:
    ticket = issue_ticket(realtime, "viewer")
    assert call(load_event("ws-connect-ticket", ticket=ticket))["statusCode"] == 200
    (row,) = connection_rows(realtime)
    assert set(row["permissions"]) == set(permissions_of("viewer"))
    # Reused: refused, and the first connection's row is all there is.
    second = load_event("ws-connect-ticket", ticket=ticket)
    second["requestContext"]["connectionId"] = "another="
    assert call(second)["statusCode"] == 401
    assert [r["connection_id"] for r in connection_rows(realtime)] == [CONNECTION_ID]


def test_connect_with_a_ticket_issued_by_the_auth_function(realtime: dict[str, str], demo_users: object) -> None:
    from tests.conftest import RestClient, login

    auth_api = RestClient("functions/auth", "auth")
    token = login(auth_api, "viewer")["access_token"]
    reply = auth_api.request("POST", "/api/v1/auth/ws-ticket", token=token)
    assert reply.status == 200
    assert call(load_event("ws-connect-ticket", ticket=reply.json()["ticket"]))["statusCode"] == 200
    assert connection_rows(realtime)[0]["username"] == "viewer"


REFUSED = [
    (None, 401),
    ({}, 401),
    ({"token": ""}, 401),
    ({"ticket": ""}, 401),
    ({"token": "not-a-jwt"}, 401),
    ({"ticket": "never-issued"}, 401),
    ({"other": "x"}, 401),
]


@pytest.mark.parametrize(("query", "status"), REFUSED)
def test_connect_refused_without_a_valid_credential(realtime: dict[str, str], query: Any, status: int) -> None:
    response = call(connect_event(query))
    assert response["statusCode"] == status
    assert json.loads(response["body"])["detail"]
    assert table_items(realtime["ConnectionsTable"]) == []


def test_connect_refused_with_both_credentials(realtime: dict[str, str]) -> None:
    ticket = issue_ticket(realtime)
    assert call(connect_event({"token": access_token(), "ticket": ticket}))["statusCode"] == 401
    assert table_items(realtime["ConnectionsTable"]) == []


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: claims_token(typ="refresh"), id="refresh-token"),
        pytest.param(lambda: claims_token(exp=int(time.time()) - 5), id="expired"),
        pytest.param(lambda: claims_token(key="another-secret-of-sufficient-length-1234"), id="foreign-signature"),
        pytest.param(lambda: claims_token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda: jwt.encode({"sub": "x"}, TEST_SECRET, algorithm="HS256"), id="missing-claims"),
        pytest.param(
            lambda: jwt.encode({"sub": "x"}, None, algorithm="none"),  # type: ignore[arg-type]
            id="alg-none",
        ),
    ],
)
def test_connect_refused_with_a_bad_token(realtime: dict[str, str], token: Any) -> None:
    assert call(connect_event({"token": token()}))["statusCode"] == 401
    assert table_items(realtime["ConnectionsTable"]) == []


def test_connect_refused_with_an_expired_ticket_still_stored(realtime: dict[str, str]) -> None:
    ticket = issue_ticket(realtime, ttl=-1)  # past its TTL, not yet swept by DynamoDB
    assert call(connect_event({"ticket": ticket}))["statusCode"] == 401
    ticket = issue_ticket(realtime, token_expires_at=int(time.time()) - 1)  # the token behind it expired
    assert call(connect_event({"ticket": ticket}))["statusCode"] == 401
    assert connection_rows(realtime) == []


def test_connect_forbidden_when_the_credential_grants_no_channel(realtime: dict[str, str]) -> None:
    ticket = issue_ticket(realtime, permissions=["manage_users", "execute_trades"])
    assert call(connect_event({"ticket": ticket}))["statusCode"] == 403
    token = claims_token(permissions=[])
    assert call(connect_event({"token": token}))["statusCode"] == 403
    assert table_items(realtime["ConnectionsTable"]) == []


def test_disconnect_removes_the_connection_and_its_subscriptions(realtime: dict[str, str]) -> None:
    table = realtime["ConnectionsTable"]
    assert call(load_event("ws-connect", access_token=access_token("admin")))["statusCode"] == 200
    channels = ChannelRepository(table)
    expires = connection_rows(realtime)[0]["expires_at"]
    for channel in ("trades", "alerts", "system"):
        channels.go_live("default", channel, CONNECTION_ID, live_from=0, expires_at=expires)
    channels.take_seqs("default", "trades", 1, batch_id="b1")
    assert call(load_event("ws-disconnect"))["statusCode"] == 200
    remaining = table_items(table, listings=True)
    # Only the channel's counter and the tenant's listing (for the sweeper; it expires on its own) are left.
    assert sorted(item["sk"] for item in remaining) == ["SEQ", "T#default"]
    # A second $disconnect (or one for an unknown connection) is harmless.
    assert call(load_event("ws-disconnect"))["statusCode"] == 200


def test_connect_event_copies_keep_the_real_shape() -> None:
    event = load_event("ws-connect")
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$connect", "CONNECT")
    assert {"connectionId", "domainName", "stage", "requestId", "connectedAt", "apiId"} <= set(context)
    message = load_event("ws-subscribe")["requestContext"]
    assert (message["routeKey"], message["eventType"]) == ("subscribe", "MESSAGE")
    disconnect = copy.deepcopy(load_event("ws-disconnect"))["requestContext"]
    assert (disconnect["routeKey"], disconnect["eventType"]) == ("$disconnect", "DISCONNECT")

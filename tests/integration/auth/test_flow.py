"""The auth lifecycle against moto: login -> me -> refresh -> reuse detection -> logout."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest

from tests.conftest import RestClient, login


@pytest.fixture
def api(auth_api: RestClient, demo_users: object) -> RestClient:
    return auth_api


def test_login_form_returns_token_pair_and_user(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "trader-demo-password"})
    assert reply.status == 200
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] != body["refresh_token"]
    assert body["user"] == {
        "username": "trader",
        "tenant_id": "default",
        "role": "trader",
        "permissions": sorted(
            [
                "view_metrics",
                "view_alerts",
                "acknowledge_alerts",
                "view_portfolio",
                "view_trades",
                "execute_trades",
            ]
        ),
    }


def test_login_json_is_accepted(api: RestClient) -> None:
    reply = api.request(
        "POST", "/api/v1/auth/token", json_body={"username": "viewer", "password": "viewer-demo-password"}
    )
    assert reply.status == 200
    assert reply.json()["user"]["permissions"] == ["view_metrics", "view_portfolio", "view_trades"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("trader", "wrong-password"), ("nobody", "trader-demo-password"), ("TRADER", "trader-demo-password")],
)
def test_login_wrong_credentials_401_with_www_authenticate(api: RestClient, username: str, password: str) -> None:
    reply = api.request("POST", "/api/v1/auth/token", form={"username": username, "password": password})
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert reply.json() == {"detail": "Incorrect username or password"}


def test_full_session_walk(api: RestClient) -> None:
    # Given a logged-in trader
    first = login(api, "trader")
    me = api.request("GET", "/api/v1/auth/me", token=first["access_token"])
    assert me.status == 200
    assert me.json()["username"] == "trader"
    assert me.json()["tenant_id"] == "default"

    # When the refresh token is rotated, the new pair works
    rotated = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": first["refresh_token"]})
    assert rotated.status == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.request("GET", "/api/v1/auth/me", token=second["access_token"]).status == 200

    # Reusing the old refresh token is detected and revokes the whole family
    reuse = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    after = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": second["refresh_token"]})
    assert after.status == 401

    # A new login starts a new family; logout revokes it
    third = login(api, "trader")
    assert api.request("POST", "/api/v1/auth/logout", token=third["access_token"]).status == 204
    revoked = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": third["refresh_token"]})
    assert revoked.status == 401


def test_refresh_rotation_chain_keeps_working(api: RestClient) -> None:
    tokens = login(api, "viewer")
    for _ in range(3):
        reply = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
        assert reply.status == 200
        tokens = reply.json()
    assert api.request("GET", "/api/v1/auth/me", token=tokens["access_token"]).status == 200


def test_refresh_race_same_token_one_wins_family_revoked(api: RestClient) -> None:
    tokens = login(api, "viewer")
    # Each Lambda invocation runs on its own thread with its own event loop, as two containers would.
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=2, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    ) as pool:
        replies = list(
            pool.map(
                lambda _: api.request(
                    "POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}
                ),
                range(2),
            )
        )
    statuses = sorted(reply.status for reply in replies)
    # Exactly one rotation wins; the loser is reuse, which revokes the family, winner's new token included.
    assert statuses == [200, 401]
    winner = next(reply for reply in replies if reply.status == 200).json()
    again = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": winner["refresh_token"]})
    assert again.status == 401


def test_refresh_whose_rotation_response_was_lost_keeps_the_session(
    api: RestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a rotation whose UpdateItem lands in DynamoDB but whose response is lost on the way back
    from alphapulse.aws.sigv4 import SignedEndpoint

    send = SignedEndpoint.request
    lost: list[str] = []

    def lose_the_rotation_response(self: SignedEndpoint, method: str, path: str, body: bytes, headers: Any) -> Any:
        answer = send(self, method, path, body, headers)
        if headers.get("x-amz-target", "").endswith(".UpdateItem") and b"current_jti = :old" in body and not lost:
            lost.append("UpdateItem")
            raise ConnectionResetError("response lost")
        return answer

    tokens = login(api, "viewer")
    monkeypatch.setattr(SignedEndpoint, "request", lose_the_rotation_response)
    # When the client's retry finds its own write already there
    reply = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    # Then it is not mistaken for reuse: the new pair works, and the family lives on
    assert lost == ["UpdateItem"]
    assert reply.status == 200, reply.body
    rotated = reply.json()
    assert api.request("GET", "/api/v1/auth/me", token=rotated["access_token"]).status == 200
    again = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": rotated["refresh_token"]})
    assert again.status == 200
    # while presenting the replaced token is still reuse
    reused = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    assert reused.status == 401


def test_logout_twice_is_harmless(api: RestClient) -> None:
    tokens = login(api, "admin")
    assert api.request("POST", "/api/v1/auth/logout", token=tokens["access_token"]).status == 204
    assert api.request("POST", "/api/v1/auth/logout", token=tokens["access_token"]).status == 204


def test_logout_requires_access_token(api: RestClient) -> None:
    tokens = login(api, "admin")
    assert api.request("POST", "/api/v1/auth/logout").status == 401
    assert api.request("POST", "/api/v1/auth/logout", token=tokens["refresh_token"]).status == 401


def test_ws_ticket_is_single_use_and_short_lived(api: RestClient, aws: dict[str, str]) -> None:
    from alphapulse.auth.logic import accounts
    from alphapulse.auth.wiring import stores_of

    tokens = login(api, "trader")
    reply = api.request("POST", "/api/v1/auth/ws-ticket", token=tokens["access_token"])
    assert reply.status == 200
    ticket = reply.json()
    assert 0 < ticket["expires_in"] <= 60
    assert tokens["access_token"] not in ticket["ticket"]

    stores = stores_of(aws["AuthTable"])
    grant = stores.tickets.consume(accounts.ticket_digest(ticket["ticket"]))
    assert grant is not None
    assert grant["username"] == "trader"
    assert grant["tenant_id"] == "default"
    assert "view_alerts" in grant["permissions"]
    assert grant["expires_at"] <= grant["issued_at"] + 60
    assert stores.tickets.consume(accounts.ticket_digest(ticket["ticket"])) is None


def test_ws_ticket_value_is_not_stored(api: RestClient, aws: dict[str, str]) -> None:
    from alphapulse.aws import dynamodb

    tokens = login(api, "trader")
    ticket = api.request("POST", "/api/v1/auth/ws-ticket", token=tokens["access_token"]).json()["ticket"]
    items = dynamodb.client().scan(TableName=aws["AuthTable"])["Items"]
    assert ticket not in repr(items)
    assert tokens["refresh_token"] not in repr(items)


def test_disabled_user_cannot_login_or_refresh(api: RestClient, aws: dict[str, str]) -> None:
    from alphapulse.auth.logic import accounts
    from alphapulse.auth.wiring import stores_of

    tokens = login(api, "viewer")
    accounts.set_disabled(stores_of(aws["AuthTable"]), "viewer", True)
    assert (
        api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}).status == 401
    )
    reply = api.request("POST", "/api/v1/auth/token", form={"username": "viewer", "password": "viewer-demo-password"})
    assert reply.status == 401


def test_role_change_applies_at_refresh(api: RestClient, aws: dict[str, str]) -> None:
    from alphapulse.auth.logic import accounts
    from alphapulse.auth.wiring import stores_of

    tokens = login(api, "viewer")
    accounts.set_role(stores_of(aws["AuthTable"]), "viewer", "trader")
    refreshed = api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    assert refreshed.json()["user"]["role"] == "trader"
    assert "view_alerts" in refreshed.json()["user"]["permissions"]


def test_failed_logins_throttled_after_five_with_retry_after(api: RestClient) -> None:
    for _ in range(5):
        reply = api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "wrong"})
        assert reply.status == 401
    # Even the right password is refused while the window lasts.
    reply = api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "trader-demo-password"})
    assert reply.status == 429
    assert 1 <= int(reply.headers["retry-after"]) <= 300
    # Other usernames are not affected.
    assert (
        api.request(
            "POST", "/api/v1/auth/token", form={"username": "viewer", "password": "viewer-demo-password"}
        ).status
        == 200
    )


def test_throttle_window_expires(api: RestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from alphapulse.auth.logic import accounts

    start = time.time()
    monkeypatch.setattr(accounts.time, "time", lambda: start)
    for _ in range(5):
        api.request("POST", "/api/v1/auth/token", form={"username": "admin", "password": "wrong"})
    assert (
        api.request("POST", "/api/v1/auth/token", form={"username": "admin", "password": "admin-demo-password"}).status
        == 429
    )
    monkeypatch.setattr(accounts.time, "time", lambda: start + 301)
    assert (
        api.request("POST", "/api/v1/auth/token", form={"username": "admin", "password": "admin-demo-password"}).status
        == 200
    )


def test_concurrent_wrong_passwords_check_at_most_the_limit(api: RestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 12 wrong passwords for one user at once, each on its own thread (as 12 containers would be)
    from alphapulse.auth.logic import accounts

    verify = accounts.verify_password
    checked: list[str] = []
    monkeypatch.setattr(accounts, "verify_password", lambda *args: checked.append("x") or verify(*args))
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=12, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    ) as pool:
        replies = list(
            pool.map(
                lambda _: api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "wrong"}),
                range(12),
            )
        )
    # Then at most 5 passwords were checked (each counted before its check); every other attempt got 429
    statuses = sorted(reply.status for reply in replies)
    assert len(checked) <= 5
    assert statuses.count(401) == len(checked) and statuses.count(429) == 12 - len(checked)
    assert all(int(reply.headers["retry-after"]) >= 1 for reply in replies if reply.status == 429)


def test_unknown_usernames_are_throttled_too(api: RestClient) -> None:
    for _ in range(5):
        assert api.request("POST", "/api/v1/auth/token", form={"username": "ghost", "password": "x"}).status == 401
    assert api.request("POST", "/api/v1/auth/token", form={"username": "ghost", "password": "x"}).status == 429


def test_successful_login_resets_failure_count(api: RestClient) -> None:
    for _ in range(4):
        api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "wrong"})
    login(api, "trader")
    for _ in range(4):
        assert api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "wrong"}).status == 401
    login(api, "trader")


def test_every_response_has_request_id(api: RestClient) -> None:
    reply = api.request("GET", "/api/v1/auth/me")
    assert reply.status == 401
    assert reply.headers["x-request-id"]

"""Bad input to the auth routes gets a clear 4xx, never a 500."""

from __future__ import annotations

import pytest

from devstack.ports import free_port
from tests.conftest import RestClient


@pytest.fixture
def api(auth_api: RestClient, demo_users: object) -> RestClient:
    return auth_api


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (JSON, b"{not json", 422),
        (JSON, b"[1, 2, 3]", 422),
        (JSON, b'"a string"', 422),
        (JSON, b"null", 422),
        (JSON, b"", 422),
        (JSON, b'{"username": "trader"}', 422),
        (JSON, b'{"password": "x"}', 422),
        (JSON, b'{"username": 5, "password": 6}', 422),
        (JSON, b'{"username": "", "password": "x"}', 422),
        (JSON, b'{"username": "trader", "password": "x", "grant_type": "client_credentials"}', 422),
        (JSON, b"\xff\xfe\x00garbage", 422),
        (FORM, b"username=trader", 422),
        (FORM, b"%%%garbage&&==", 422),
        (FORM, b"\xff\xfe", 422),
        (FORM, b"", 422),
        ({"Content-Type": "text/plain"}, b"username=trader&password=x", 415),
        ({}, b"username=trader&password=x", 415),
    ],
)
def test_token_malformed_body_4xx(api: RestClient, headers: dict[str, str], body: bytes, expected: int) -> None:
    reply = api.request("POST", "/api/v1/auth/token", body=body, headers=headers)
    assert reply.status == expected, reply.body
    assert "detail" in reply.json()


def test_token_oversized_username_422(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", form={"username": "u" * 257, "password": "x"})
    assert reply.status == 422
    assert "u" * 257 not in reply.body.decode()


def test_token_username_of_256_is_just_wrong_credentials(api: RestClient) -> None:
    assert api.request("POST", "/api/v1/auth/token", form={"username": "u" * 256, "password": "x"}).status == 401


def test_token_oversized_password_422(api: RestClient) -> None:
    assert api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "p" * 1025}).status == 422


def test_body_over_64kb_413(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", json_body={"username": "trader", "password": "x" * 70_000})
    assert reply.status == 413
    assert reply.headers["x-request-id"]


@pytest.mark.parametrize("username", ["трейдер", "交易员", "trader\u0000", "👀", "trader\n", "../admin", "a#b"])
def test_token_unicode_usernames_401(api: RestClient, username: str) -> None:
    reply = api.request(
        "POST", "/api/v1/auth/token", json_body={"username": username, "password": "trader-demo-password"}
    )
    assert reply.status == 401


def test_token_unicode_password_401(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", json_body={"username": "trader", "password": "пароль🔑\u0000"})
    assert reply.status == 401


@pytest.mark.parametrize("tenant", ["no-such-tenant", "acme", "DEFAULT", "x" * 64])
def test_token_unknown_or_foreign_tenant_401(api: RestClient, tenant: str) -> None:
    reply = api.request(
        "POST",
        "/api/v1/auth/token",
        json_body={"username": "trader", "password": "trader-demo-password", "tenant_id": tenant},
    )
    assert reply.status == 401


def test_token_matching_tenant_200(api: RestClient) -> None:
    reply = api.request(
        "POST",
        "/api/v1/auth/token",
        json_body={"username": "acme-admin", "password": "acme-admin-demo-password", "tenant_id": "acme"},
    )
    assert reply.status == 200
    assert reply.json()["user"]["tenant_id"] == "acme"


def test_token_oversized_tenant_422(api: RestClient) -> None:
    reply = api.request(
        "POST", "/api/v1/auth/token", json_body={"username": "trader", "password": "x", "tenant_id": "t" * 65}
    )
    assert reply.status == 422


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"refresh_token": ""}',
        b'{"refresh_token": 42}',
        b"nope",
        b'{"refresh_token": "' + b"a" * 5000 + b'"}',
    ],
)
def test_refresh_malformed_body_422(api: RestClient, body: bytes) -> None:
    assert api.request("POST", "/api/v1/auth/refresh", body=body, headers=JSON).status == 422


def test_refresh_garbage_token_401(api: RestClient) -> None:
    assert api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": "garbage"}).status == 401


def test_validation_errors_do_not_echo_password(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", json_body={"username": ["x"], "password": "secret-pw-1234"})
    assert reply.status == 422
    assert "secret-pw-1234" not in reply.body.decode()


def test_binary_base64_body_handled(api: RestClient) -> None:
    reply = api.request("POST", "/api/v1/auth/token", body=bytes(range(256)), headers=JSON)
    assert reply.status == 422


def test_unknown_route_404_and_wrong_method_405(api: RestClient) -> None:
    assert api.request("GET", "/api/v1/auth/nope").status == 404
    assert api.request("GET", "/api/v1/auth/token").status == 405


def test_storage_outage_is_503_not_500(api: RestClient, monkeypatch: pytest.MonkeyPatch) -> None:

    from tests.conftest import reset_caches

    closed = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    reset_caches()
    reply = api.request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "trader-demo-password"})
    assert reply.status == 503
    assert reply.json() == {"detail": "storage unavailable during count login attempt"}


def test_unexpected_error_is_500_with_request_id_and_cors(api: RestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from alphapulse.auth.logic import accounts

    def explode(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "login", explode)
    reply = api.request(
        "POST",
        "/api/v1/auth/token",
        form={"username": "trader", "password": "x"},
        headers={"Origin": "http://localhost:5173"},
    )
    assert reply.status == 500
    assert reply.json() == {"detail": "Internal Server Error"}
    assert reply.headers["x-request-id"]
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_cors_foreign_origin_gets_no_allow_header(api: RestClient) -> None:
    reply = api.request("GET", "/api/v1/auth/me", headers={"Origin": "https://evil.example"})
    assert reply.status == 401
    assert "access-control-allow-origin" not in reply.headers


def test_cors_preflight_for_configured_origin(api: RestClient) -> None:
    reply = api.request(
        "OPTIONS",
        "/api/v1/auth/token",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"

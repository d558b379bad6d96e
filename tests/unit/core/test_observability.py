"""Secrets, passwords and tokens never reach a log line; log lines are JSON with a correlation id."""

from __future__ import annotations

import io
import json

import pytest

from alphapulse.core.observability import REDACTED, redact, register_secret
from tests.conftest import DEMO_USERS, TEST_SECRET, RestClient, login


def test_auth_flows_log_no_secret_or_token(
    auth_api: RestClient, demo_users: object, log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphapulse.auth.logic import accounts

    seen: list[str] = []
    tokens = login(auth_api, "trader")
    seen += [tokens["access_token"], tokens["refresh_token"]]
    rotated = auth_api.request(
        "POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}
    ).json()
    seen += [rotated["access_token"], rotated["refresh_token"]]
    auth_api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})  # reuse
    ticket = auth_api.request("POST", "/api/v1/auth/ws-ticket", token=rotated["access_token"]).json()["ticket"]
    seen.append(ticket)
    auth_api.request("POST", "/api/v1/auth/token", form={"username": "admin", "password": "not-the-password"})
    auth_api.request("GET", "/api/v1/auth/me", token=tokens["access_token"] + "x")

    # An unexpected failure whose message carries a token is logged with its traceback, redacted.
    def explode(*_: object) -> None:
        raise RuntimeError(f"boom with {rotated['refresh_token']} and {TEST_SECRET}")

    monkeypatch.setattr(accounts, "logout", explode)
    assert auth_api.request("POST", "/api/v1/auth/logout", token=rotated["access_token"]).status == 500

    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line["message"] == "login" for line in lines)
    assert any("refresh token reuse" in line["message"] for line in lines)
    assert any(line.get("exception") for line in lines)
    forbidden = [
        TEST_SECRET,
        "not-the-password",
        *seen,
        *(password for _, _, password in DEMO_USERS.values()),
    ]
    for value in forbidden:
        assert value not in output
    # Not even the JWT's signature part survives on its own.
    for token in seen[:4]:
        assert token.rsplit(".", 1)[1] not in output


def test_log_lines_carry_correlation_id(auth_api: RestClient, log_output: io.StringIO) -> None:
    auth_api.request("POST", "/api/v1/auth/token", form={"username": "ghost", "password": "whatever-pass"})
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.strip()]
    failed = [line for line in lines if line["message"] == "login failed"]
    assert failed
    assert failed[0]["correlation_id"]


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def.ghi",
        '{"password": "hunter2"}',
        '{"refresh_token":"x.y.z"}',
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nature_1",
        '{"ticket": "abc\\"def"}',
    ],
)
def test_redact_removes_credentials(text: str) -> None:
    out = redact(text)
    assert REDACTED in out
    for secret in ("abc.def.ghi", "hunter2", "x.y.z", "sig-nature_1", 'abc\\"def'):
        assert secret not in out


def test_redact_registered_secret() -> None:
    register_secret("my-registered-secret-value")
    assert redact("value=my-registered-secret-value") == f"value={REDACTED}"


def test_redact_leaves_ordinary_text() -> None:
    assert redact('{"username": "trader", "status": 401}') == '{"username": "trader", "status": 401}'

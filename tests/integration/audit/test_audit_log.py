"""The audit log through the functions' Lambda handlers, against moto: every audited action writes exactly one
entry, GET /api/v1/audit (permission, tenants, filters, pages), a failed audit write never fails its action, and
no secret reaches an entry or a log line."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.alerts.logic import lifecycle
from alphapulse.alerts.models import AlertEvent
from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.audit.logic import AuditTrail
from alphapulse.audit.models import AuditEntry
from alphapulse.audit.wiring import AuditDependencies, dependencies
from alphapulse.auth.cli import main as users_command
from alphapulse.auth.logic.tokens import issue_token
from devstack.runtime.handlers import LambdaContext
from tests.conftest import DEMO_USERS, TEST_SECRET, RestClient, items, load_event, login
from tests.integration.alerts.test_api import NEW_RULE

AUDIT = "/api/v1/audit"


@pytest.fixture
def apis(demo_users: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, RestClient]:
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "2")
    return {name: RestClient(f"functions/{name}", name) for name in ("auth", "alerts", "audit")}


def stored_entries(endpoint: str) -> list[dict[str, Any]]:
    """Every audit item of the data table, as stored (attribute values unwrapped)."""
    return [
        {name: next(iter(value.values())) for name, value in item.items()}
        for item in items(endpoint, "DataTable")
        if item["pk"]["S"].startswith("AUDIT#")
    ]


def actions(endpoint: str) -> Counter[str]:
    return Counter(entry["action"] for entry in stored_entries(endpoint))


def access_token(username: str) -> str:
    tenant, role, _ = DEMO_USERS[username]
    return issue_token(typ="access", username=username, tenant_id=tenant, role=role, session_id="s")[0]


def seed_alert(tenant: str = "default") -> str:
    now = datetime.now(UTC)
    event = AlertEvent.model_validate(
        {
            "message": "Leverage is 1.72x",
            "severity": "error",
            "source": "rules-engine",
            "status": "firing",
            "timestamp": now.isoformat(),
            "tenant_id": tenant,
        }
    )
    result = lifecycle.fire(AlertRepository("DataTable"), event, now=now)
    assert result.alert is not None
    return result.alert.alert_id


# --- each action, exactly one entry ------------------------------------------------------------------


def _login(apis: dict[str, RestClient]) -> None:
    login(apis["auth"], "trader")


def _login_failed(apis: dict[str, RestClient]) -> None:
    reply = apis["auth"].request("POST", "/api/v1/auth/token", form={"username": "trader", "password": "wrong-one"})
    assert reply.status == 401


def _login_throttled(apis: dict[str, RestClient]) -> None:
    for expected in (401, 401, 429):  # LOGIN_MAX_FAILURES=2
        form = {"username": "viewer", "password": "wrong-one"}
        assert apis["auth"].request("POST", "/api/v1/auth/token", form=form).status == expected


def _refresh_reuse(apis: dict[str, RestClient]) -> None:
    refresh_token = login(apis["auth"], "trader")["refresh_token"]
    for expected in (200, 401):
        reply = apis["auth"].request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": refresh_token})
        assert reply.status == expected


def _logout(apis: dict[str, RestClient]) -> None:
    token = login(apis["auth"], "trader")["access_token"]
    assert apis["auth"].request("POST", "/api/v1/auth/logout", token=token).status == 204


def _acknowledge(apis: dict[str, RestClient]) -> None:
    alert_id = seed_alert()
    reply = apis["alerts"].request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=access_token("trader"))
    assert reply.status == 200, reply.body


def _resolve(apis: dict[str, RestClient]) -> None:
    alert_id = seed_alert()
    reply = apis["alerts"].request("POST", f"/api/v1/alerts/{alert_id}/resolve", token=access_token("trader"))
    assert reply.status == 200, reply.body


def _rule_changes(apis: dict[str, RestClient]) -> None:
    token = access_token("admin")
    created = apis["alerts"].request("POST", "/api/v1/alerts/rules", token=token, json_body=NEW_RULE)
    assert created.status == 201, created.body
    path = f"/api/v1/alerts/rules/{created.json()['rule_id']}"
    assert apis["alerts"].request("PUT", path, token=token, json_body={**NEW_RULE, "name": "Other"}).status == 200
    assert apis["alerts"].request("DELETE", path, token=token).status == 204


def _users_command(apis: dict[str, RestClient], monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    def run(*args: str, stdin: str = "") -> None:
        sys.stdin = io.StringIO(stdin)
        try:
            assert (
                users_command(["--table", "AuthTable", "--audit-table", "DataTable", "--actor", "ops-jane", *args]) == 0
            )
        finally:
            sys.stdin = sys.__stdin__

    run(
        "create",
        "--username",
        "bob",
        "--tenant",
        "acme",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="bob-long-password\n",
    )
    run("set-role", "--username", "bob", "--role", "trader")
    run("disable", "--username", "bob")
    run("enable", "--username", "bob")
    run("set-password", "--username", "bob", "--password-stdin", stdin="another-long-password\n")
    run("show", "--username", "bob")
    run("list", "--tenant", "acme")


SCENARIOS: dict[str, tuple[Callable[..., None], dict[str, int]]] = {
    "login": (_login, {"auth.login": 1}),
    "failed login": (_login_failed, {"auth.login_failed": 1}),
    "throttled login": (_login_throttled, {"auth.login_failed": 2, "auth.login_throttled": 1}),
    "refresh reuse": (_refresh_reuse, {"auth.login": 1, "auth.refresh_reuse": 1}),
    "logout": (_logout, {"auth.login": 1, "auth.logout": 1}),
    "acknowledge": (_acknowledge, {"alert.acknowledge": 1}),
    "resolve": (_resolve, {"alert.resolve": 1}),
    "rule changes": (_rule_changes, {"rule.create": 1, "rule.replace": 1, "rule.delete": 1}),
    "users command": (
        _users_command,
        {"user.create": 1, "user.set_role": 1, "user.disable": 1, "user.enable": 1, "user.set_password": 1},
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_audited_action_writes_exactly_one_entry(
    apis: dict[str, RestClient], moto_server: str, scenario: str
) -> None:
    run, expected = SCENARIOS[scenario]
    run(apis)
    assert actions(moto_server) == Counter(expected)


def test_an_entry_holds_who_what_when_target_source_and_request(apis: dict[str, RestClient], moto_server: str) -> None:
    before = datetime.now(UTC)
    alert_id = seed_alert()
    reply = apis["alerts"].request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=access_token("trader"))
    assert reply.status == 200
    (entry,) = stored_entries(moto_server)
    assert entry["tenant_id"] == "default"
    assert entry["actor"] == "trader"
    assert entry["action"] == "alert.acknowledge"
    assert entry["target"] == alert_id
    assert entry["source_ip"] == "127.0.0.1"
    assert entry["request_id"] == reply.headers["x-request-id"]
    assert before <= datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)
    assert 390 * 86400 < int(entry["expires_at"]) - before.timestamp() < 410 * 86400  # AUDIT_RETENTION_DAYS 400


def test_the_users_command_records_the_operator_and_the_users_tenant(
    apis: dict[str, RestClient], moto_server: str
) -> None:
    _users_command(apis)
    entries = stored_entries(moto_server)
    assert {(e["tenant_id"], e["actor"], e["target"]) for e in entries} == {("acme", "ops-jane", "bob")}
    assert len({e["request_id"] for e in entries}) == 5  # one run each
    assert all("source_ip" not in e for e in entries)


def test_a_failed_login_of_an_unknown_user_goes_to_the_tenant_it_named(
    apis: dict[str, RestClient], moto_server: str
) -> None:
    form = {"username": "nobody", "password": "whatever-it-is", "tenant_id": "acme"}
    assert apis["auth"].request("POST", "/api/v1/auth/token", form=form).status == 401
    form = {"username": "nobody", "password": "whatever-it-is"}
    assert apis["auth"].request("POST", "/api/v1/auth/token", form=form).status == 401
    form = {"username": "My Pa$$word!", "password": "whatever-it-is"}  # typed into the wrong field
    assert apis["auth"].request("POST", "/api/v1/auth/token", form=form).status == 401
    assert sorted((e["tenant_id"], e["actor"]) for e in stored_entries(moto_server)) == [
        ("acme", "nobody"),
        ("default", "(not a username)"),
        ("default", "nobody"),
    ]


# --- GET /api/v1/audit ---------------------------------------------------------------------------------


def listed(api: RestClient, username: str, **query: str) -> dict[str, Any]:
    reply = api.request("GET", AUDIT, token=access_token(username), query=list(query.items()))
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


@pytest.mark.parametrize(("username", "status"), [("trader", 403), ("viewer", 403), ("admin", 200)])
def test_only_holders_of_view_audit_logs_read_the_log(apis: dict[str, RestClient], username: str, status: int) -> None:
    assert apis["audit"].request("GET", AUDIT, token=access_token(username)).status == status
    assert apis["audit"].request("GET", AUDIT).status == 401


def test_an_admin_never_sees_another_tenants_entries(apis: dict[str, RestClient]) -> None:
    login(apis["auth"], "acme-admin")
    login(apis["auth"], "trader")
    acme = listed(apis["audit"], "acme-admin")["items"]
    default = listed(apis["audit"], "admin")["items"]
    assert [(e["tenant_id"], e["actor"]) for e in acme] == [("acme", "acme-admin")]
    assert [(e["tenant_id"], e["actor"]) for e in default] == [("default", "trader")]
    for actor in ("trader", "acme-admin"):  # a filter does not reach across either
        assert all(e["tenant_id"] == "acme" for e in listed(apis["audit"], "acme-admin", actor=actor)["items"])


def test_filters_newest_first_and_cursor_pages(apis: dict[str, RestClient]) -> None:
    for username in ("trader", "viewer", "trader", "admin", "trader"):
        login(apis["auth"], username)
    _login_failed(apis)
    everything = listed(apis["audit"], "admin", limit="100")["items"]
    times = [e["at"] for e in everything]
    assert times == sorted(times, reverse=True) and len(everything) == 6

    mine = listed(apis["audit"], "admin", actor="trader")["items"]
    assert [e["action"] for e in mine] == ["auth.login_failed", "auth.login", "auth.login", "auth.login"]
    failed = listed(apis["audit"], "admin", action="auth.login_failed")["items"]
    assert [(e["actor"], e["action"]) for e in failed] == [("trader", "auth.login_failed")]
    both = listed(apis["audit"], "admin", actor="trader", action="auth.login")["items"]
    assert len(both) == 3

    pages, cursor = [], None
    while True:
        query = {"actor": "trader", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = listed(apis["audit"], "admin", **query)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["entry_id"] for page in pages for e in page] == [e["entry_id"] for e in mine]

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(apis["audit"], "admin", start_time=future)["items"] == []
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert listed(apis["audit"], "admin", end_time=past)["items"] == []


def test_a_cursor_of_another_tenant_or_filter_is_a_400(apis: dict[str, RestClient]) -> None:
    login(apis["auth"], "trader")
    login(apis["auth"], "trader")
    cursor = listed(apis["audit"], "admin", limit="1")["next_cursor"]
    assert cursor
    for username, query in (("acme-admin", [("cursor", cursor)]), ("admin", [("cursor", cursor), ("actor", "x")])):
        reply = apis["audit"].request("GET", AUDIT, token=access_token(username), query=query)
        assert reply.status == 400, reply.body


@pytest.mark.parametrize(
    "query",
    [
        [("action", "auth.everything")],
        [("actor", "")],
        [("actor", "x" * 129)],
        [("limit", "0")],
        [("start_time", "2026-11-02T00:00:00Z"), ("end_time", "2026-11-01T00:00:00Z")],
        [("cursor", "not-a-cursor")],
    ],
)
def test_bad_queries_are_4xx(apis: dict[str, RestClient], query: list[tuple[str, str]]) -> None:
    reply = apis["audit"].request("GET", AUDIT, token=access_token("admin"), query=query)
    assert reply.status in (400, 422), reply.body


# --- failure and secrets ----------------------------------------------------------------------------


class BrokenStore:
    def put(self, entry: AuditEntry, *, expires_at: int) -> None:
        raise RuntimeError("the audit table is gone")

    def list(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not read here")


def test_a_failed_audit_write_never_fails_the_action_and_is_logged_and_counted(
    apis: dict[str, RestClient], capsys: pytest.CaptureFixture[str], log_output: io.StringIO
) -> None:
    with dependencies.override(AuditDependencies(entries=BrokenStore())):
        tokens = login(apis["auth"], "trader")
        assert apis["auth"].request("POST", "/api/v1/auth/logout", token=tokens["access_token"]).status == 204
        bad = {"username": "trader", "password": "wrong-one"}
        assert apis["auth"].request("POST", "/api/v1/auth/token", form=bad).status == 401
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    failures = [line for line in lines if line["message"] == "audit write failed"]
    assert [line["audit_action"] for line in failures] == ["auth.login", "auth.logout", "auth.login_failed"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = [line.get("AuditWriteFailed", 0) for line in emf]
    assert sum(sum(v) if isinstance(v, list) else v for v in counted) == 3  # the metric, once per failed write


def test_a_trail_without_a_table_logs_instead_of_raising(apis: dict[str, RestClient]) -> None:
    def no_table() -> Any:
        raise RuntimeError("DATA_TABLE is not set")

    AuditTrail(no_table, source_ip="10.0.0.1").record("default", "someone", "auth.logout")  # no exception


def test_no_secret_reaches_an_entry_or_a_log_line(
    apis: dict[str, RestClient], moto_server: str, capsys: pytest.CaptureFixture[str], log_output: io.StringIO
) -> None:
    secrets: set[str] = {TEST_SECRET, "wrong-one", "bob-long-password", "another-long-password"}
    secrets |= {password for _, _, password in DEMO_USERS.values()}
    tokens = login(apis["auth"], "trader")
    secrets |= {tokens["access_token"], tokens["refresh_token"]}
    for run, _ in SCENARIOS.values():
        run(apis)
    for reply in (
        apis["auth"].request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}),
        apis["auth"].request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}),
    ):
        if reply.status == 200:
            secrets |= {reply.json()["access_token"], reply.json()["refresh_token"]}
    stored = json.dumps(stored_entries(moto_server))
    logged = capsys.readouterr()
    assert len(stored_entries(moto_server)) > 20
    assert "login failed" in log_output.getvalue()  # the log was captured
    for secret in secrets:
        assert secret not in stored
        assert secret not in log_output.getvalue()
        assert secret not in logged.out and secret not in logged.err
    assert "eyJ" not in stored  # no JWT of any kind


def test_the_canned_event_is_answered(apis: dict[str, RestClient]) -> None:
    login(apis["auth"], "trader")
    event = load_event("audit-list", access_token=access_token("admin"))
    response = apis["audit"].handler(event, LambdaContext("audit"))
    assert response["statusCode"] == 200, response["body"]
    (entry,) = json.loads(response["body"])["items"]
    assert (entry["actor"], entry["action"]) == ("trader", "auth.login")

"""The alerts function through its Lambda handler, against moto server: reading, filters, pagination,
acknowledge/resolve (with the race), rules CRUD and defaults, permissions, tenants, bad input,
canned events, and the firing lifecycle that ingestion will drive."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse.alerts.logic import defaults
from alphapulse.alerts.logic import lifecycle as logic
from alphapulse.alerts.models import Alert, AlertEvent, AlertRecord, AlertRule
from alphapulse.alerts.repositories.alerts import AlertRepository, alert_item
from alphapulse.alerts.repositories.rules import RuleRepository
from alphapulse.auth.logic.tokens import issue_token
from alphapulse.core.pagination import Page
from alphapulse.core.times import iso
from devstack.gateways.rest import response_body
from devstack.runtime.handlers import LambdaContext
from tests.conftest import EVENTS, RestClient, load_event

BASE = "/api/v1/alerts"
T0 = datetime(2025, 11, 24, 2, 30, tzinfo=UTC)
EVENT_ALERT_ID = "3f1c9a7be2d84c05a6b1e9d2c4f8a701"  # the id in events/alerts-*.json
DEFAULTS = {
    # rule_id: (metric, condition, severity, cooldown) exactly as DESIGN section 4
    "sharpe_ratio_low": ("sharpe_ratio", "< 0.5", "warning", 3600),
    "drawdown_high": ("max_drawdown", "> 0.1", "error", 1800),
    "portfolio_leverage": ("leverage", "> 1.5", "error", 1800),
    "var_high": ("var_95", "> 0.05", "warning", 3600),
    "high_slippage": ("avg_slippage", "> 0.002", "warning", 3600),
    "low_fill_rate": ("fill_rate", "< 0.95", "warning", 3600),
    "high_memory_usage": ("memory_usage_percent", "> 85", "warning", 1800),
    "high_cpu_usage": ("cpu_usage_percent", "> 90", "warning", 1800),
    "high_api_latency": ("api_p95_latency", "> 1000", "warning", 1800),
    "high_api_error_rate": ("api_error_rate", "> 0.05", "error", 1800),
}
NEW_RULE = {
    "name": "Concentration",
    "description": "One position above 25%",
    "metric_name": "max_position_weight",
    "condition": "> 0.25",
    "severity": "warning",
    "message_template": "Largest weight is {value:.1%}",
    "cooldown_seconds": 600,
    "enabled": True,
}


def token(role: str = "admin", tenant: str = "default", username: str | None = None, now: int | None = None) -> str:
    return issue_token(
        typ="access", username=username or f"{tenant}-{role}", tenant_id=tenant, role=role, session_id="s", now=now
    )[0]


def fire(table: str = "DataTable", *, now: datetime | None = None, **fields: Any) -> logic.FireResult:
    """Apply an alert event that arrives `now` (by default, the moment it is stamped)."""
    event = AlertEvent.model_validate(
        {
            "message": "Leverage is 1.72x",
            "severity": "error",
            "source": "rules-engine",
            "status": "firing",
            "timestamp": T0.isoformat(),
            **fields,
        }
    )
    return logic.fire(AlertRepository(table), event, now=now or event.timestamp)


def seed_alert(*, tenant: str = "default", minutes: int = 0, **fields: Any) -> str:
    """One firing alert created `minutes` after T0; its id."""
    at = T0 + timedelta(minutes=minutes)
    result = fire(tenant_id=tenant, timestamp=at.isoformat(), now=at, **fields)
    assert result.action == "created" and result.alert is not None
    return result.alert.alert_id


@pytest.fixture
def api(aws: dict[str, str]) -> RestClient:
    return RestClient("functions/alerts", "alerts")


def ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.body
    return [item["alert_id"] for item in reply.json()["items"]]


# --- reading --------------------------------------------------------------------------------------


def test_list_alerts_empty_tenant_returns_empty_page(api: RestClient) -> None:
    reply = api.request("GET", BASE, token=token())
    assert reply.status == 200
    assert reply.json() == {"items": [], "next_cursor": None}


def test_list_alerts_returns_newest_first_with_every_field(api: RestClient) -> None:
    first = seed_alert(minutes=0, dedup_key="a", metric_name="leverage", metric_value=1.72, labels={"desk": "fx"})
    second = seed_alert(minutes=5, dedup_key="b", title="Disk", rule_id="portfolio_leverage")
    reply = api.request("GET", BASE, token=token())
    assert ids(reply) == [second, first]
    alert = reply.json()["items"][1]
    assert alert == {
        "alert_id": first,
        "title": "Leverage is 1.72x",
        "message": "Leverage is 1.72x",
        "severity": "error",
        "source": "rules-engine",
        "rule_id": None,
        "metric_name": "leverage",
        "metric_value": 1.72,
        "labels": {"desk": "fx"},
        "dedup_key": "a",
        "status": "firing",
        "count": 1,
        "first_seen": "2025-11-24T02:30:00Z",
        "last_seen": "2025-11-24T02:30:00Z",
        "created_at": "2025-11-24T02:30:00Z",
        "acknowledged": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "ack_note": None,
        "resolved_at": None,
        "resolved_by": None,
        "resolve_note": None,
    }
    assert reply.json()["items"][0]["rule_id"] == "portfolio_leverage"


def test_list_alerts_filter_by_severity_returns_only_that_severity(api: RestClient) -> None:
    error = seed_alert(minutes=0, severity="error")
    seed_alert(minutes=1, severity="warning")
    critical = seed_alert(minutes=2, severity="critical")
    assert ids(api.request("GET", BASE, token=token(), query=[("severity", "error")])) == [error]
    assert ids(api.request("GET", BASE, token=token(), query=[("severity", "critical")])) == [critical]
    assert ids(api.request("GET", BASE, token=token(), query=[("severity", "info")])) == []


def test_list_alerts_filter_by_source_returns_only_that_source(api: RestClient) -> None:
    seed_alert(minutes=0, source="rules-engine")
    prometheus = seed_alert(minutes=1, source="prometheus")
    assert ids(api.request("GET", BASE, token=token(), query=[("source", "prometheus")])) == [prometheus]


def test_list_alerts_filter_by_status_follows_acknowledge_and_resolve(api: RestClient) -> None:
    a = seed_alert(minutes=0)
    b = seed_alert(minutes=1)
    c = seed_alert(minutes=2)
    assert api.request("POST", f"{BASE}/{b}/acknowledge", token=token()).status == 200
    assert api.request("POST", f"{BASE}/{c}/resolve", token=token()).status == 200
    by_status = {
        status: ids(api.request("GET", BASE, token=token(), query=[("status", status)]))
        for status in ("firing", "acknowledged", "resolved")
    }
    assert by_status == {"firing": [a], "acknowledged": [b], "resolved": [c]}
    assert ids(api.request("GET", BASE, token=token())) == [c, b, a]


def test_list_alerts_status_and_severity_combine(api: RestClient) -> None:
    seed_alert(minutes=0, severity="warning")
    wanted = seed_alert(minutes=1, severity="error")
    acknowledged = seed_alert(minutes=2, severity="error")
    assert api.request("POST", f"{BASE}/{acknowledged}/acknowledge", token=token()).status == 200
    query = [("status", "firing"), ("severity", "error")]
    assert ids(api.request("GET", BASE, token=token(), query=query)) == [wanted]


def test_list_alerts_time_window_is_inclusive_and_accepts_offsets(api: RestClient) -> None:
    alerts = [seed_alert(minutes=m) for m in (0, 10, 20, 30)]
    start, end = (T0 + timedelta(minutes=10)), (T0 + timedelta(minutes=20))
    window = [("start_time", start.isoformat()), ("end_time", end.isoformat())]
    assert ids(api.request("GET", BASE, token=token(), query=window)) == [alerts[2], alerts[1]]
    # The same instants written with a +02:00 offset.
    offset = timezone_shift = timedelta(hours=2)
    shifted = [
        ("start_time", (start + offset).replace(tzinfo=None).isoformat() + "+02:00"),
        ("end_time", (end + timezone_shift).replace(tzinfo=None).isoformat() + "+02:00"),
    ]
    assert ids(api.request("GET", BASE, token=token(), query=shifted)) == [alerts[2], alerts[1]]
    only_start = [("start_time", start.isoformat())]
    assert ids(api.request("GET", BASE, token=token(), query=only_start)) == [alerts[3], alerts[2], alerts[1]]
    only_end = [("end_time", end.isoformat())]
    assert ids(api.request("GET", BASE, token=token(), query=only_end)) == [alerts[2], alerts[1], alerts[0]]
    with_status = [*window, ("status", "firing")]
    assert ids(api.request("GET", BASE, token=token(), query=with_status)) == [alerts[2], alerts[1]]


def test_list_alerts_start_after_end_422(api: RestClient) -> None:
    query = [("start_time", "2025-11-24T03:00:00Z"), ("end_time", "2025-11-24T02:00:00Z")]
    reply = api.request("GET", BASE, token=token(), query=query)
    assert reply.status == 422
    assert "start_time must not be after end_time" in reply.body.decode()


@pytest.mark.parametrize("query", [[], [("severity", "error")], [("status", "firing")], [("source", "engine")]])
def test_list_alerts_paginated_returns_each_alert_once_in_order(api: RestClient, query: list[tuple[str, str]]) -> None:
    # Every alert is a firing error; the source filter keeps the even minutes only.
    expected = []
    for minute in range(23):
        alert_id = seed_alert(minutes=minute, source="engine" if minute % 2 == 0 else "other")
        if query[:1] != [("source", "engine")] or minute % 2 == 0:
            expected.append(alert_id)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = [*query, ("limit", "4"), *([("cursor", cursor)] if cursor else [])]
        reply = api.request("GET", BASE, token=token(), query=params)
        page = ids(reply)
        assert len(page) <= 4
        seen.extend(page)
        pages += 1
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(expected))
    assert pages in (-(-len(expected) // 4), -(-len(expected) // 4) + 1)  # a last, empty page is allowed


@pytest.mark.parametrize("cursor", ["garbage", "a.b", "x" * 3000, "eyJwayI6eyJTIjoiVCNkZWZhdWx0In19.AAAA", "é.é"])
def test_list_alerts_garbage_cursor_400(api: RestClient, cursor: str) -> None:
    assert api.request("GET", BASE, token=token(), query=[("cursor", cursor)]).status in (400, 422)


def test_list_alerts_cursor_of_another_query_400(api: RestClient) -> None:
    for minute in range(3):
        seed_alert(minutes=minute)
    reply = api.request("GET", BASE, token=token(), query=[("limit", "1")])
    cursor = reply.json()["next_cursor"]
    assert cursor
    other = api.request("GET", BASE, token=token(), query=[("limit", "1"), ("status", "firing"), ("cursor", cursor)])
    assert other.status == 400
    same = api.request("GET", BASE, token=token(), query=[("limit", "2"), ("cursor", cursor)])
    assert same.status == 200  # the limit is not part of the query


def test_get_alert_returns_alert(api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="lev")
    reply = api.request("GET", f"{BASE}/{alert_id}", token=token())
    assert reply.status == 200
    assert reply.json()["alert_id"] == alert_id
    assert reply.json()["dedup_key"] == "lev"


def test_get_alert_unknown_404(api: RestClient) -> None:
    reply = api.request("GET", f"{BASE}/0123456789abcdef0123456789abcdef", token=token())
    assert reply.status == 404
    assert reply.json() == {"detail": "Alert not found"}


def test_get_rules_path_is_the_rules_list_not_an_alert(api: RestClient) -> None:
    reply = api.request("GET", f"{BASE}/rules", token=token())
    assert reply.status == 200
    assert {rule["rule_id"] for rule in reply.json()["items"]} == set(DEFAULTS)
    # Below /alerts/rules, only the rule routes' methods exist; an alert action on "rules" finds no alert.
    assert api.request("POST", f"{BASE}/rules/acknowledge", token=token()).status == 404
    assert api.request("GET", f"{BASE}/rules/drawdown_high", token=token()).status == 405


def test_alert_event_named_rules_is_refused() -> None:
    with pytest.raises(ValueError):
        AlertEvent.model_validate(
            {
                "alert_id": "rules",
                "message": "m",
                "severity": "info",
                "source": "s",
                "status": "firing",
                "timestamp": T0,
            }
        )


# --- acknowledge and resolve ----------------------------------------------------------------------


def test_acknowledge_records_who_when_and_note(api: RestClient) -> None:
    alert_id = seed_alert()
    reply = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token("trader"), json_body={"note": "on it ✓"})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["status"] == "acknowledged"
    assert body["acknowledged"] is True
    assert body["acknowledged_by"] == "default-trader"
    assert body["ack_note"] == "on it ✓"
    acknowledged_at = datetime.fromisoformat(body["acknowledged_at"])
    assert abs((datetime.now(UTC) - acknowledged_at).total_seconds()) < 60
    assert api.request("GET", f"{BASE}/{alert_id}", token=token()).json() == body


@pytest.mark.parametrize("body", [None, {}, {"note": None}])
def test_acknowledge_without_note_200(api: RestClient, body: Any) -> None:
    alert_id = seed_alert()
    reply = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token(), json_body=body)
    assert reply.status == 200, reply.body
    assert reply.json()["ack_note"] is None


def test_acknowledge_twice_409(api: RestClient) -> None:
    alert_id = seed_alert()
    assert api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token()).status == 200
    reply = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token())
    assert reply.status == 409
    assert reply.json() == {"detail": "Alert is already acknowledged"}


def test_acknowledge_resolved_409(api: RestClient) -> None:
    alert_id = seed_alert()
    assert api.request("POST", f"{BASE}/{alert_id}/resolve", token=token()).status == 200
    reply = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token())
    assert reply.status == 409
    assert reply.json() == {"detail": "Alert is already resolved"}


def test_acknowledge_unknown_404(api: RestClient) -> None:
    assert api.request("POST", f"{BASE}/nope/acknowledge", token=token()).status == 404


def test_acknowledge_note_over_1000_chars_422(api: RestClient) -> None:
    alert_id = seed_alert()
    reply = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token(), json_body={"note": "n" * 1001})
    assert reply.status == 422
    ok = api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token(), json_body={"note": "n" * 1000})
    assert ok.status == 200


@pytest.mark.parametrize("body", [b"{not json", b"[1]", b'"note"', b'{"note": 5}', b'{"note": "x", "other": 1}'])
def test_acknowledge_malformed_body_422(api: RestClient, body: bytes) -> None:
    alert_id = seed_alert()
    reply = api.request(
        "POST", f"{BASE}/{alert_id}/acknowledge", token=token(), body=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 422, reply.body
    assert api.request("GET", f"{BASE}/{alert_id}", token=token()).json()["status"] == "firing"


def _concurrently(api: RestClient, calls: list[tuple[str, str, str]]) -> list[int]:
    # Each Lambda invocation runs on its own thread with its own event loop, as two containers would.
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(calls), initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    ) as pool:
        replies = list(pool.map(lambda call: api.request(call[0], call[1], token=call[2]), calls))
    return sorted(reply.status for reply in replies)


def test_acknowledge_race_one_200_one_409(api: RestClient) -> None:
    for attempt in range(5):
        alert_id = seed_alert(minutes=attempt)
        path = f"{BASE}/{alert_id}/acknowledge"
        statuses = _concurrently(api, [("POST", path, token("admin")), ("POST", path, token("trader"))])
        assert statuses == [200, 409]
        winner = api.request("GET", f"{BASE}/{alert_id}", token=token()).json()
        assert winner["acknowledged_by"] in {"default-admin", "default-trader"}


def test_resolve_race_one_200_one_409(api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="race")
    path = f"{BASE}/{alert_id}/resolve"
    assert _concurrently(api, [("POST", path, token()), ("POST", path, token("trader"))]) == [200, 409]


def test_resolve_records_who_when_note_and_frees_the_dedup_key(api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="lev")
    reply = api.request("POST", f"{BASE}/{alert_id}/resolve", token=token("trader"), json_body={"note": "fixed"})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert (body["status"], body["resolved_by"], body["resolve_note"]) == ("resolved", "default-trader", "fixed")
    assert body["resolved_at"] is not None
    assert api.request("GET", f"{BASE}/{alert_id}", token=token()).json() == body
    # A later firing of the same key opens a new alert.
    later = fire(dedup_key="lev", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    assert later.action == "created" and later.alert is not None
    assert later.alert.alert_id != alert_id


def test_resolve_acknowledged_alert_keeps_ack_fields(api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="k")
    api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token(), json_body={"note": "ack"})
    body = api.request("POST", f"{BASE}/{alert_id}/resolve", token=token()).json()
    assert (body["status"], body["acknowledged"], body["ack_note"], body["resolve_note"]) == (
        "resolved",
        True,
        "ack",
        None,
    )


def test_resolve_twice_409(api: RestClient) -> None:
    alert_id = seed_alert()
    assert api.request("POST", f"{BASE}/{alert_id}/resolve", token=token()).status == 200
    assert api.request("POST", f"{BASE}/{alert_id}/resolve", token=token()).status == 409


def test_resolve_unknown_404(api: RestClient) -> None:
    assert api.request("POST", f"{BASE}/0123456789abcdef/resolve", token=token()).status == 404


# --- rules ----------------------------------------------------------------------------------------


def test_rules_new_tenant_gets_the_design_defaults(api: RestClient) -> None:
    reply = api.request("GET", f"{BASE}/rules", token=token("trader"))
    assert reply.status == 200
    rules = {rule["rule_id"]: rule for rule in reply.json()["items"]}
    assert {
        rule_id: (rule["metric_name"], rule["condition"], rule["severity"], rule["cooldown_seconds"])
        for rule_id, rule in rules.items()
    } == DEFAULTS
    assert all(rule["enabled"] and "{value" in rule["message_template"] for rule in rules.values())
    assert reply.json()["next_cursor"] is None


def test_rules_create_returns_201_with_server_id(api: RestClient) -> None:
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body={**NEW_RULE, "rule_id": "mine"})
    assert reply.status == 201, reply.body
    rule = reply.json()
    assert rule["rule_id"] != "mine" and len(rule["rule_id"]) == 32
    assert {k: v for k, v in rule.items() if k != "rule_id"} == NEW_RULE
    listed = api.request("GET", f"{BASE}/rules", token=token()).json()["items"]
    assert rule in listed
    assert len(listed) == len(DEFAULTS) + 1  # the first write seeded the defaults too


def test_rules_create_normalises_condition(api: RestClient) -> None:
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body={**NEW_RULE, "condition": "  >=-1.5e2 "})
    assert reply.status == 201
    assert reply.json()["condition"] == ">= -1.5e2"


@pytest.mark.parametrize(
    "condition",
    [
        "",
        "0.1",
        ">",
        "> abc",
        "=> 0.1",
        "= 0.1",
        "> 0.1 and < 2",
        "> inf",
        "> nan",
        "> 1e999",
        "> 0x10",
        "<> 1",
        5,
        None,
    ],
)
def test_rules_invalid_condition_422(api: RestClient, condition: Any) -> None:
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body={**NEW_RULE, "condition": condition})
    assert reply.status == 422, reply.body


@pytest.mark.parametrize(
    "template",
    [
        "no placeholder",
        "{value:d}",
        "{value.__class__}",
        "{value[0]}",
        "{other} {value}",
        "{value",
        "{}",
        "{0}",
        "{value:>1000000}",
        "{value:{threshold}}",
        "{metric_name:.2f} {value}",
    ],
)
def test_rules_invalid_message_template_422(api: RestClient, template: str) -> None:
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body={**NEW_RULE, "message_template": template})
    assert reply.status == 422, reply.body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cooldown_seconds", -1),
        ("cooldown_seconds", 10**30),
        ("severity", "fatal"),
        ("metric_name", "bad#name"),
        ("metric_name", ""),
        ("name", ""),
        ("name", "n" * 129),
        ("enabled", "maybe"),
    ],
)
def test_rules_invalid_field_422(api: RestClient, field: str, value: Any) -> None:
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body={**NEW_RULE, field: value})
    assert reply.status == 422, reply.body


def test_rules_replace_changes_a_default_rule(api: RestClient) -> None:
    changed = {**NEW_RULE, "metric_name": "max_drawdown", "condition": "> 0.08", "severity": "critical"}
    reply = api.request("PUT", f"{BASE}/rules/drawdown_high", token=token(), json_body=changed)
    assert reply.status == 200, reply.body
    assert reply.json() == {**changed, "rule_id": "drawdown_high"}
    rules = {rule["rule_id"]: rule for rule in api.request("GET", f"{BASE}/rules", token=token()).json()["items"]}
    assert rules["drawdown_high"]["condition"] == "> 0.08"
    assert len(rules) == len(DEFAULTS)


def test_rules_replace_unknown_404(api: RestClient) -> None:
    assert api.request("PUT", f"{BASE}/rules/unknown", token=token(), json_body=NEW_RULE).status == 404


def test_rules_replace_invalid_body_422(api: RestClient) -> None:
    body = {**NEW_RULE, "condition": "bigger than 3"}
    assert api.request("PUT", f"{BASE}/rules/drawdown_high", token=token(), json_body=body).status == 422


def test_rules_delete_204_then_404(api: RestClient) -> None:
    assert api.request("DELETE", f"{BASE}/rules/high_slippage", token=token()).status == 204
    assert api.request("DELETE", f"{BASE}/rules/high_slippage", token=token()).status == 404
    listed = {rule["rule_id"] for rule in api.request("GET", f"{BASE}/rules", token=token()).json()["items"]}
    assert listed == set(DEFAULTS) - {"high_slippage"}


def test_rules_deleting_all_defaults_does_not_bring_them_back(api: RestClient) -> None:
    for rule_id in DEFAULTS:
        assert api.request("DELETE", f"{BASE}/rules/{rule_id}", token=token()).status == 204
    for _ in range(2):
        assert api.request("GET", f"{BASE}/rules", token=token()).json() == {"items": [], "next_cursor": None}


def test_rules_paginated_returns_each_rule_once(api: RestClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = [("limit", "3"), *([("cursor", cursor)] if cursor else [])]
        reply = api.request("GET", f"{BASE}/rules", token=token(), query=query)
        assert reply.status == 200
        seen.extend(rule["rule_id"] for rule in reply.json()["items"])
        cursor = reply.json()["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(DEFAULTS)


def test_rules_concurrent_first_reads_seed_once(api: RestClient) -> None:
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=4, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    ) as pool:
        replies = list(pool.map(lambda _: api.request("GET", f"{BASE}/rules", token=token()), range(4)))
    assert all(reply.status == 200 for reply in replies)
    assert len(api.request("GET", f"{BASE}/rules", token=token()).json()["items"]) == len(DEFAULTS)


def test_rules_repository_seed_is_once(aws: dict[str, str]) -> None:
    store = RuleRepository("DataTable")
    assert not store.is_seeded("t1")
    assert store.seed("t1", defaults.default_rules()) is True
    assert store.seed("t1", []) is False
    assert store.is_seeded("t1")


# --- permissions ----------------------------------------------------------------------------------

ROUTES = [
    ("GET", BASE, None, "view_alerts"),
    ("GET", f"{BASE}/{{alert}}", None, "view_alerts"),
    ("POST", f"{BASE}/{{alert}}/acknowledge", None, "acknowledge_alerts"),
    ("POST", f"{BASE}/{{alert}}/resolve", None, "acknowledge_alerts"),
    ("GET", f"{BASE}/rules", None, "view_alerts"),
    ("POST", f"{BASE}/rules", NEW_RULE, "manage_alert_rules"),
    ("PUT", f"{BASE}/rules/var_high", {**NEW_RULE, "metric_name": "var_95"}, "manage_alert_rules"),
    ("DELETE", f"{BASE}/rules/low_fill_rate", None, "manage_alert_rules"),
]
ROLE_PERMISSIONS = {
    "admin": {"view_alerts", "acknowledge_alerts", "manage_alert_rules"},
    "trader": {"view_alerts", "acknowledge_alerts"},
    "viewer": set(),
}


@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES)
@pytest.mark.parametrize("who", ["admin", "trader", "viewer", "anonymous", "expired", "garbage"])
def test_route_permission_matrix(api: RestClient, method: str, path: str, body: Any, permission: str, who: str) -> None:
    alert_id = seed_alert()
    credentials = {"anonymous": None, "expired": token("admin", now=1_000_000_000), "garbage": "not.a.token"}
    credential = credentials[who] if who in credentials else token(who)
    reply = api.request(method, path.format(alert=alert_id), token=credential, json_body=body)
    if who in ("anonymous", "expired", "garbage"):
        expected = 401
    elif permission in ROLE_PERMISSIONS[who]:
        expected = {"POST": 201 if path.endswith("/rules") else 200, "DELETE": 204}.get(method, 200)
    else:
        expected = 403
    assert reply.status == expected, (who, method, path, reply.body)


# --- tenants --------------------------------------------------------------------------------------


def test_tenant_isolation_other_tenant_sees_nothing(api: RestClient) -> None:
    theirs = seed_alert(tenant="default", dedup_key="shared")
    for minute in range(3):
        seed_alert(tenant="default", minutes=minute + 1)
    mine = seed_alert(tenant="acme", dedup_key="shared")  # same dedup key, separate tenant
    acme = token("admin", tenant="acme")
    assert mine != theirs
    assert ids(api.request("GET", BASE, token=acme)) == [mine]
    for status in ("firing", "acknowledged", "resolved"):
        assert theirs not in ids(api.request("GET", BASE, token=acme, query=[("status", status)]))
    assert api.request("GET", f"{BASE}/{theirs}", token=acme).status == 404
    assert api.request("POST", f"{BASE}/{theirs}/acknowledge", token=acme).status == 404
    assert api.request("POST", f"{BASE}/{theirs}/resolve", token=acme).status == 404
    assert api.request("GET", f"{BASE}/{theirs}", token=token()).json()["status"] == "firing"
    # A cursor of tenant default is refused for acme.
    cursor = api.request("GET", BASE, token=token(), query=[("limit", "1")]).json()["next_cursor"]
    assert cursor
    assert api.request("GET", BASE, token=acme, query=[("limit", "1"), ("cursor", cursor)]).status == 400


def test_tenant_isolation_rules_are_per_tenant(api: RestClient) -> None:
    acme = token("admin", tenant="acme")
    created = api.request("POST", f"{BASE}/rules", token=acme, json_body=NEW_RULE).json()
    assert api.request("DELETE", f"{BASE}/rules/drawdown_high", token=acme).status == 204
    default_rules = {rule["rule_id"] for rule in api.request("GET", f"{BASE}/rules", token=token()).json()["items"]}
    assert default_rules == set(DEFAULTS)
    assert api.request("PUT", f"{BASE}/rules/{created['rule_id']}", token=token(), json_body=NEW_RULE).status == 404
    assert api.request("DELETE", f"{BASE}/rules/{created['rule_id']}", token=token()).status == 404
    cursor = api.request("GET", f"{BASE}/rules", token=token(), query=[("limit", "2")]).json()["next_cursor"]
    assert api.request("GET", f"{BASE}/rules", token=acme, query=[("cursor", cursor)]).status == 400


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        [("limit", "0")],
        [("limit", "501")],
        [("limit", "abc")],
        [("limit", "1e3")],
        [("severity", "fatal")],
        [("status", "open")],
        [("start_time", "yesterday")],
        [("end_time", "2025-13-45T99:00:00Z")],
        [("start_time", "0001-01-01T00:00:00+05:00")],
        [("end_time", "9999-12-31T23:59:59-05:00")],
        [("source", "")],
        [("source", "s" * 257)],
        [("cursor", "c" * 2049)],
    ],
)
def test_list_alerts_garbage_params_422(api: RestClient, query: list[tuple[str, str]]) -> None:
    reply = api.request("GET", BASE, token=token(), query=query)
    assert reply.status == 422, reply.body


def test_list_alerts_times_before_any_alert_are_an_empty_page(api: RestClient) -> None:
    # Times parse alike on every route (web.params): a time long before any alert is valid, and matches nothing.
    reply = api.request("GET", BASE, token=token(), query=[("end_time", "0500-01-01T00:00:00Z")])
    assert reply.status == 200, reply.body
    assert reply.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("source", ["ünïcødé ✓", "a#b", "' OR 1=1 --", "\x00"])
def test_list_alerts_odd_source_is_just_a_filter(api: RestClient, source: str) -> None:
    assert api.request("GET", BASE, token=token(), query=[("source", source)]).status == 200


@pytest.mark.parametrize(
    "alert_id",
    ["a" * 129, "ünïcødé", "a%23b", "T%23default%23ALERT%23x", "%00", "a b", "..", "%F0%9F%92%A5"],
)
@pytest.mark.parametrize("suffix", ["", "/acknowledge", "/resolve"])
def test_alert_id_garbage_is_4xx_never_500(api: RestClient, alert_id: str, suffix: str) -> None:
    method = "GET" if not suffix else "POST"
    reply = api.request(method, f"{BASE}/{alert_id}{suffix}", token=token())
    assert reply.status in (404, 405, 422), reply.body


@pytest.mark.parametrize("rule_id", ["r" * 129, "ünï", "a%23b", "%00"])
def test_rule_id_garbage_is_4xx_never_500(api: RestClient, rule_id: str) -> None:
    assert api.request("PUT", f"{BASE}/rules/{rule_id}", token=token(), json_body=NEW_RULE).status in (404, 422)
    assert api.request("DELETE", f"{BASE}/rules/{rule_id}", token=token()).status in (404, 422)


@pytest.mark.parametrize("text", ["\ud800", "ok\udfff"])
def test_rules_lone_surrogate_text_422(api: RestClient, text: str) -> None:
    body = json.dumps({**NEW_RULE, "name": text}, ensure_ascii=True).encode()
    reply = api.request("POST", f"{BASE}/rules", token=token(), body=body, headers={"Content-Type": "application/json"})
    assert reply.status == 422


def test_rules_unicode_text_round_trips(api: RestClient) -> None:
    body = {**NEW_RULE, "name": "Überhitzung 🔥", "message_template": "Wert {value:.1f} °C ✓"}
    reply = api.request("POST", f"{BASE}/rules", token=token(), json_body=body)
    assert reply.status == 201
    assert reply.json()["message_template"] == "Wert {value:.1f} °C ✓"


# --- canned events --------------------------------------------------------------------------------

ALERT_EVENTS = sorted(path.stem for path in EVENTS.glob("alerts-*.json"))
EXPECTED_STATUS = {"alerts-rules-create": 201, "alerts-rules-delete": 204}


def test_every_alerts_route_has_an_event() -> None:
    assert {
        "alerts-list",
        "alerts-get",
        "alerts-acknowledge",
        "alerts-resolve",
        "alerts-rules-list",
        "alerts-rules-create",
        "alerts-rules-replace",
        "alerts-rules-delete",
    } <= set(ALERT_EVENTS)


@pytest.mark.parametrize("name", ALERT_EVENTS)
def test_alerts_event_is_answered(api: RestClient, name: str) -> None:
    fire(alert_id=EVENT_ALERT_ID, dedup_key="leverage", timestamp="2025-11-24T01:00:00Z", now=T0)
    event = load_event(name, access_token=token("admin"))
    assert "{{" not in json.dumps(event)
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert event["resource"] in ("/api/v1/alerts", "/api/v1/alerts/{proxy+}")
    response = api.handler(event, LambdaContext("alerts"))
    assert response["statusCode"] == EXPECTED_STATUS.get(name, 200), response_body(response)
    if name == "alerts-list":
        assert [item["alert_id"] for item in json.loads(response_body(response))["items"]] == [EVENT_ALERT_ID]


# --- the firing lifecycle (the write side ingestion calls) -----------------------------------------


def test_fire_same_dedup_key_bumps_count_and_last_seen(aws: dict[str, str]) -> None:
    first = fire(dedup_key="lev", metric_value=1.6)
    later = T0 + timedelta(minutes=5)
    second = fire(dedup_key="lev", timestamp=later.isoformat(), metric_value=1.8)
    assert (first.action, second.action) == ("created", "bumped")
    assert first.alert is not None and second.alert is not None
    assert second.alert.alert_id == first.alert.alert_id
    assert (second.alert.count, second.alert.last_seen, second.alert.first_seen) == (2, later, T0)
    assert second.alert.metric_value == 1.8


def test_fire_on_acknowledged_alert_bumps_and_keeps_acknowledgement(aws: dict[str, str], api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="lev")
    api.request("POST", f"{BASE}/{alert_id}/acknowledge", token=token())
    result = fire(dedup_key="lev", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    assert result.action == "bumped" and result.alert is not None
    assert (result.alert.alert_id, result.alert.status, result.alert.count) == (alert_id, "acknowledged", 2)


def test_fire_duplicate_delivery_counts_once(aws: dict[str, str]) -> None:
    results = [fire(dedup_key="lev", timestamp=(T0 + timedelta(minutes=m)).isoformat()) for m in (0, 0, 1, 1, 1)]
    assert [result.action for result in results] == ["created", "ignored", "bumped", "ignored", "ignored"]
    alert = AlertRepository("DataTable").get("default", results[0].alert.alert_id)  # type: ignore[union-attr]
    assert alert is not None and alert.count == 2


def test_fire_after_resolution_creates_new_alert_and_redelivery_does_not(aws: dict[str, str]) -> None:
    created = fire(dedup_key="lev")
    bumped = fire(dedup_key="lev", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    resolved = fire(dedup_key="lev", status="resolved", timestamp=(T0 + timedelta(minutes=2)).isoformat())
    assert (created.action, bumped.action, resolved.action) == ("created", "bumped", "resolved")
    assert resolved.alert is not None and resolved.alert.resolved_by == "rules-engine"
    # Redeliveries of events the resolution already covered change nothing.
    for minute in (0, 1, 2):
        status = "resolved" if minute == 2 else "firing"
        again = fire(dedup_key="lev", status=status, timestamp=(T0 + timedelta(minutes=minute)).isoformat())
        assert again.action == "ignored"
    fresh = fire(dedup_key="lev", timestamp=(T0 + timedelta(minutes=3)).isoformat(), now=T0 + timedelta(minutes=3))
    assert fresh.action == "created" and fresh.alert is not None and created.alert is not None
    assert fresh.alert.alert_id != created.alert.alert_id and fresh.alert.count == 1
    all_alerts = logic.list_alerts(AlertRepository("DataTable"), "default", logic.AlertFilters(), limit=10, cursor=None)
    assert [(a.status, a.count) for a in all_alerts.items] == [("firing", 1), ("resolved", 2)]


def test_fire_whose_transaction_response_was_lost_creates_the_alert_once(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the create transaction lands but its response is lost, so the client sends it again (same token)
    from alphapulse.aws.sigv4 import SignedEndpoint

    send = SignedEndpoint.request
    lost: list[str] = []

    def lose_one_transaction_response(self: SignedEndpoint, method: str, path: str, body: bytes, headers: Any) -> Any:
        answer = send(self, method, path, body, headers)
        if headers.get("x-amz-target", "").endswith(".TransactWriteItems") and not lost:
            lost.append("TransactWriteItems")
            raise ConnectionResetError("response lost")
        return answer

    monkeypatch.setattr(SignedEndpoint, "request", lose_one_transaction_response)
    created = fire(dedup_key="lost")
    # Then the retry is answered as the first: one alert, created, counted once
    assert lost == ["TransactWriteItems"]
    assert created.action == "created" and created.alert is not None and created.alert.count == 1
    listed = logic.list_alerts(AlertRepository("DataTable"), "default", logic.AlertFilters(), limit=10, cursor=None)
    assert [(a.alert_id, a.count) for a in listed.items] == [(created.alert.alert_id, 1)]


def test_fire_resolution_overtaking_its_firing_leaves_no_alert(aws: dict[str, str]) -> None:
    assert fire(dedup_key="k", status="resolved", timestamp=(T0 + timedelta(minutes=1)).isoformat()).action == "ignored"
    assert fire(dedup_key="k", timestamp=T0.isoformat()).action == "ignored"
    assert fire(dedup_key="k", timestamp=(T0 + timedelta(minutes=2)).isoformat()).action == "created"


def test_fire_stale_resolution_does_not_resolve_newer_firing(aws: dict[str, str]) -> None:
    fire(dedup_key="k", timestamp=T0.isoformat())
    fire(dedup_key="k", timestamp=(T0 + timedelta(minutes=2)).isoformat())
    stale = fire(dedup_key="k", status="resolved", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    assert stale.action == "ignored" and stale.alert is not None and stale.alert.status == "firing"


def test_fire_resolve_by_alert_id(aws: dict[str, str]) -> None:
    created = fire(alert_id="ext-42")
    assert created.action == "created" and created.alert is not None and created.alert.alert_id == "ext-42"
    assert fire(alert_id="ext-42").action == "ignored"  # redelivery
    resolved = fire(alert_id="ext-42", status="resolved", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    assert resolved.action == "resolved"
    # The id names one alert: a firing event for it after resolution changes nothing.
    assert fire(alert_id="ext-42", timestamp=(T0 + timedelta(minutes=2)).isoformat()).action == "ignored"


def test_fire_without_dedup_key_is_idempotent_per_event(aws: dict[str, str]) -> None:
    first = fire(message="disk full")
    again = fire(message="disk full")
    other = fire(message="disk full", timestamp=(T0 + timedelta(seconds=1)).isoformat())
    assert (first.action, again.action, other.action) == ("created", "ignored", "created")
    assert first.alert is not None and other.alert is not None and first.alert.alert_id != other.alert.alert_id


def test_fire_resolution_frees_key_for_operator_resolved_alert(aws: dict[str, str], api: RestClient) -> None:
    alert_id = seed_alert(dedup_key="k")
    fire(dedup_key="k", timestamp=(T0 + timedelta(minutes=1)).isoformat())
    assert api.request("POST", f"{BASE}/{alert_id}/resolve", token=token()).status == 200
    # The bump that the operator already saw is not a new alert when redelivered ...
    assert fire(dedup_key="k", timestamp=(T0 + timedelta(minutes=1)).isoformat()).action == "ignored"
    # ... a newer firing is.
    assert fire(dedup_key="k", timestamp=(T0 + timedelta(minutes=2)).isoformat()).action == "created"


def test_fire_racing_same_key_creates_one_alert(aws: dict[str, str]) -> None:
    for round_ in range(3):
        key = f"race-{round_}"
        timestamps = [(T0 + timedelta(seconds=s)).isoformat() for s in range(6)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda ts, key=key: fire(dedup_key=key, timestamp=ts), timestamps))
        created = [result for result in results if result.action == "created"]
        assert len(created) == 1
        alert_ids = {result.alert.alert_id for result in results if result.alert is not None}
        assert len(alert_ids) == 1
        stored = AlertRepository("DataTable").get("default", alert_ids.pop())
        bumped = sum(result.action == "bumped" for result in results)
        assert stored is not None and stored.count == 1 + bumped


# --- fuzz -----------------------------------------------------------------------------------------

_ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            *("firing", "error", "0", "-1", "1e3", ""),
            *("2025-11-24T02:30:00Z", "2025-11-24T02:30:00+02:00", "0999-12-31T23:59:59Z"),
            *("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"),
        ]
    ),
)
_FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _query_text(value: str) -> str:
    return value.replace("\x00", "")  # API Gateway cannot carry NUL in a query string


@_FUZZ
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["start_time", "end_time", "severity", "status", "source", "limit", "cursor"]),
            _ANY_TEXT,
        ),
        max_size=5,
    )
)
def test_list_alerts_fuzzed_query_never_5xx_and_matches_schema(api: RestClient, params: list[tuple[str, str]]) -> None:
    reply = api.request("GET", BASE, token=token(), query=[(k, _query_text(v)) for k, v in params])
    assert reply.status in (200, 400, 422), reply.body
    if reply.status == 200:
        Page[Alert].model_validate(reply.json())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@_FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(sorted(NEW_RULE)),
        _JSON | st.sampled_from(["> 1", "<= -2.5", "{value}", "{value:.2f} {threshold:g}", "warning"]),
        max_size=4,
    ),
    method=st.sampled_from(["POST", "PUT"]),
)
def test_rules_fuzzed_body_never_5xx_and_matches_schema(api: RestClient, changes: dict[str, Any], method: str) -> None:
    path = f"{BASE}/rules" if method == "POST" else f"{BASE}/rules/var_high"
    reply = api.request(method, path, token=token(), json_body={**NEW_RULE, **changes})
    assert reply.status in (200, 201, 404, 422), reply.body
    if reply.status in (200, 201):
        AlertRule.model_validate(reply.json())


@_FUZZ
@given(alert_id=st.text(min_size=1, max_size=140), note=_JSON, action=st.sampled_from(["", "/acknowledge", "/resolve"]))
def test_alert_routes_fuzzed_id_and_note_never_5xx(api: RestClient, alert_id: str, note: Any, action: str) -> None:
    path = f"{BASE}/{quote(alert_id, safe='')}{action}"
    method = "POST" if action else "GET"
    reply = api.request(method, path, token=token(), json_body={"note": note} if action else None)
    # 307: an id of only slashes makes `/alerts/`, which the framework redirects to `/alerts` (no 5xx).
    assert reply.status in (200, 307, 404, 405, 409, 422), reply.body


# --- the repository's transaction outcomes --------------------------------------------------------


def _record(alert_id: str, dedup_key: str | None, minutes: int = 0) -> AlertRecord:
    at = T0 + timedelta(minutes=minutes)
    return AlertRecord(
        alert_id=alert_id,
        title="t",
        message="m",
        severity="info",
        source="s",
        dedup_key=dedup_key,
        status="firing",
        first_seen=at,
        last_seen=at,
        created_at=at,
        last_event_at=iso(at),
    )


def test_repository_create_reports_each_cancellation_reason(aws: dict[str, str]) -> None:
    store = AlertRepository("DataTable")
    assert store.create("default", _record("a", "k")) == "created"
    assert store.create("default", _record("b", "k")) == "dedup_taken"
    assert store.create("default", _record("a", "k2")) == "id_taken"
    store.settle("default", "k3", watermark=iso(T0 + timedelta(minutes=5)))
    assert store.create("default", _record("c", "k3", minutes=5)) == "stale"
    assert store.create("default", _record("c", "k3", minutes=6)) == "created"
    assert store.create("default", _record("n", None)) == "created"
    assert store.create("default", _record("n", None)) == "id_taken"
    assert store.dedup_state("default", "k") == logic.DedupState("a", None)
    assert store.get("default", "b") is None  # the cancelled transaction left nothing behind


def test_repository_settle_only_raises_the_watermark(aws: dict[str, str]) -> None:
    store = AlertRepository("DataTable")
    store.settle("default", "k", watermark="2025-11-24T02:31:00.000000Z")
    store.settle("default", "k", watermark="2025-11-24T02:30:00.000000Z")
    assert store.dedup_state("default", "k").watermark == "2025-11-24T02:31:00.000000Z"


def test_repository_resolve_leaves_another_alerts_dedup_item(aws: dict[str, str]) -> None:
    # Given a dedup key whose ACTIVE item points at another alert (an alert fired with an explicit id)
    store = AlertRepository("DataTable")
    assert store.create("default", _record("other", "k")) == "created"
    assert store.create("default", _record("mine", None)) == "created"
    mine = store.get("default", "mine")
    assert mine is not None
    mine = mine.model_copy(update={"dedup_key": "k"})
    AlertRepository("DataTable").client.put_item(TableName="DataTable", Item=alert_item("default", mine))
    # When it is resolved
    resolved = store.resolve("default", mine, by="op", at=T0, note=None, last_event_at=mine.last_event_at)
    # Then it resolves alone, and the key still points at the other alert
    assert resolved is not None and resolved.status == "resolved"
    assert store.dedup_state("default", "k").active_alert_id == "other"
    stored = store.get("default", "mine")
    assert stored is not None and stored.status == "resolved"


def test_repository_resolve_of_changed_alert_returns_none(aws: dict[str, str]) -> None:
    store = AlertRepository("DataTable")
    store.create("default", _record("a", "k"))
    seen = store.get("default", "a")
    assert seen is not None
    assert store.bump("default", "a", event_at=T0 + timedelta(minutes=1), metric_value=None) is not None
    assert store.resolve("default", seen, by="op", at=T0, note=None, last_event_at=seen.last_event_at) is None
    assert store.dedup_state("default", "k").active_alert_id == "a"

"""With demo data in tenant `default` only, a user of tenant `acme` gets nothing of it through any route."""

from __future__ import annotations

from typing import Any

import pytest

from alphapulse.auth.logic.tokens import issue_token
from devstack.demo import data as demo_data
from tests.conftest import RestClient


@pytest.fixture
def seeded(aws: dict[str, str]) -> dict[str, Any]:
    demo_data.seed(aws["DataTable"], "default")
    default_token, _ = issue_token(typ="access", username="admin", tenant_id="default", role="admin", session_id="a")
    acme_token, _ = issue_token(typ="access", username="acme-admin", tenant_id="acme", role="admin", session_id="b")
    return {"default": default_token, "acme": acme_token}


def get(prefix: str, path: str, token: str, query: list[tuple[str, str]] | None = None) -> Any:
    return RestClient(f"functions/{prefix}", prefix).request("GET", path, token=token, query=query)


LISTS = [
    ("trades", "/api/v1/trades"),
    ("alerts", "/api/v1/alerts"),
    ("metrics", "/api/v1/metrics"),
]


@pytest.mark.parametrize(("prefix", "path"), LISTS)
def test_lists_are_per_tenant(seeded: dict[str, str], prefix: str, path: str) -> None:
    assert get(prefix, path, seeded["default"]).json()["items"], "the seed should be visible to its tenant"
    assert get(prefix, path, seeded["acme"]).json()["items"] == []


def test_ids_of_another_tenant_are_404(seeded: dict[str, str]) -> None:
    trade_id = get("trades", "/api/v1/trades", seeded["default"]).json()["items"][0]["trade_id"]
    alert_id = get("alerts", "/api/v1/alerts", seeded["default"]).json()["items"][0]["alert_id"]
    assert get("trades", f"/api/v1/trades/{trade_id}", seeded["default"]).status == 200
    assert get("trades", f"/api/v1/trades/{trade_id}", seeded["acme"]).status == 404
    assert get("alerts", f"/api/v1/alerts/{alert_id}", seeded["acme"]).status == 404
    ack = RestClient("functions/alerts", "alerts").request(
        "POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=seeded["acme"], json_body={"note": "not mine"}
    )
    assert ack.status == 404
    assert get("alerts", f"/api/v1/alerts/{alert_id}", seeded["default"]).json()["status"] == "firing"
    assert get("metrics", "/api/v1/metrics/sharpe_ratio/latest", seeded["acme"]).status == 404


def test_aggregates_and_snapshots_are_per_tenant(seeded: dict[str, str]) -> None:
    series = get("metrics", "/api/v1/metrics/sharpe_ratio", seeded["acme"], [("interval", "1h")]).json()
    assert series["points"] == []
    portfolio = get("portfolio", "/api/v1/portfolio", seeded["acme"], [("include_history", "true")]).json()
    assert portfolio["updated_at"] is None and portfolio["positions"] == [] and portfolio["total_value"] == 0
    assert get("portfolio", "/api/v1/portfolio", seeded["default"]).json()["positions"]
    status = RestClient("functions/system", "system").request("GET", "/api/v1/system", token=seeded["acme"]).json()
    assert status["trading_system"] is None
    assert status["components"]["event_feed"]["last_event_at"] is None


@pytest.mark.parametrize(("prefix", "path"), [("trades", "/api/v1/trades"), ("alerts", "/api/v1/alerts")])
def test_cursor_of_another_tenant_is_400(seeded: dict[str, str], prefix: str, path: str) -> None:
    page = get(prefix, path, seeded["default"], [("limit", "2")]).json()
    assert page["next_cursor"]
    reply = get(prefix, path, seeded["acme"], [("limit", "2"), ("cursor", page["next_cursor"])])
    assert reply.status == 400

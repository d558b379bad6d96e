"""Roles map to DESIGN section 3's permissions, and `require()` answers 401 / 403 / 200."""

from __future__ import annotations

from typing import Any

import pytest

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.auth.models import ALL_PERMISSIONS, ROLE_PERMISSIONS
from alphapulse.web.app import api_router, create_app, lambda_handler
from alphapulse.web.security import require
from devstack.gateways.rest import rest_event
from devstack.runtime.handlers import LambdaContext


def test_role_table_matches_design() -> None:
    assert {
        "view_metrics", "view_alerts", "acknowledge_alerts", "view_portfolio", "view_trades",
        "view_system", "execute_trades", "manage_users", "view_audit_logs", "manage_alert_rules",
    } == ALL_PERMISSIONS  # fmt: skip
    assert ROLE_PERMISSIONS["admin"] == ALL_PERMISSIONS
    assert ROLE_PERMISSIONS["trader"] == {
        "view_metrics", "view_alerts", "acknowledge_alerts", "view_portfolio", "view_trades", "execute_trades",
    }  # fmt: skip
    assert ROLE_PERMISSIONS["viewer"] == {"view_metrics", "view_portfolio", "view_trades"}


def _handler() -> Any:
    router = api_router(tags=["probe"])

    @router.get("/system-probe", dependencies=[require("view_system")])
    def probe() -> dict[str, str]:
        return {"ok": "yes"}

    return lambda_handler(create_app("probe", routers=[router]))


def _call(handler: Any, token: str | None) -> int:
    headers = [("Authorization", f"Bearer {token}")] if token else []
    event = rest_event("GET", "/api/v1/system-probe", resource="/api/v1/system-probe", headers=headers)
    status: int = handler(event, LambdaContext())["statusCode"]
    return status


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("trader", 403), ("viewer", 403)])
def test_require_permission_by_role(app_env: None, role: str, expected: int) -> None:
    token, _ = issue_token(typ="access", username=role, tenant_id="default", role=role, session_id="s")
    assert _call(_handler(), token) == expected


def test_require_without_token_401(app_env: None) -> None:
    assert _call(_handler(), None) == 401


def test_require_with_refresh_token_401(app_env: None) -> None:
    token, _ = issue_token(typ="refresh", username="admin", tenant_id="default", role="admin", session_id="s")
    assert _call(_handler(), token) == 401

"""Every REST route x {admin, trader, viewer, no token, expired token}: the codes of DESIGN sections 3 and 4."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.auth.models import ROLE_PERMISSIONS
from tests.conftest import TEST_SECRET, RestClient

# (method, path, permission or None for "any valid token", body); ids that do not exist are fine:
# the permission is checked before the route looks anything up.
ROUTES: list[tuple[str, str, str | None, Any]] = [
    ("GET", "/api/v1/auth/me", None, None),
    ("POST", "/api/v1/auth/logout", None, None),
    ("POST", "/api/v1/auth/ws-ticket", None, None),
    ("GET", "/api/v1/metrics", "view_metrics", None),
    ("GET", "/api/v1/metrics/sharpe_ratio", "view_metrics", None),
    ("GET", "/api/v1/metrics/sharpe_ratio/latest", "view_metrics", None),
    ("GET", "/api/v1/alerts", "view_alerts", None),
    ("GET", "/api/v1/alerts/0123456789abcdef0123456789abcdef", "view_alerts", None),
    ("POST", "/api/v1/alerts/0123456789abcdef0123456789abcdef/acknowledge", "acknowledge_alerts", {"note": "x"}),
    ("POST", "/api/v1/alerts/0123456789abcdef0123456789abcdef/resolve", "acknowledge_alerts", {}),
    ("GET", "/api/v1/alerts/rules", "view_alerts", None),
    ("POST", "/api/v1/alerts/rules", "manage_alert_rules", {}),
    ("PUT", "/api/v1/alerts/rules/sharpe_ratio_low", "manage_alert_rules", {}),
    ("DELETE", "/api/v1/alerts/rules/no-such-rule", "manage_alert_rules", None),
    ("GET", "/api/v1/portfolio", "view_portfolio", None),
    ("GET", "/api/v1/portfolio/history", "view_portfolio", None),
    ("GET", "/api/v1/trades", "view_trades", None),
    ("GET", "/api/v1/trades/t-1", "view_trades", None),
    ("GET", "/api/v1/system", "view_system", None),
    ("GET", "/api/v1/audit", "view_audit_logs", None),
]
PUBLIC = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/api/v1/docs/swagger-ui-bundle.js"),
]
PREFIXES = {"auth", "metrics", "alerts", "portfolio", "trades", "system", "audit"}


def client_for(path: str) -> RestClient:
    prefix = path.split("/")[3].split(".")[0]
    if prefix in ("health", "openapi", "docs"):
        prefix = "system"
    assert prefix in PREFIXES
    return RestClient(f"functions/{prefix}", prefix)


def request(path: str, method: str, token: str | None, body: Any) -> int:
    client = client_for(path)
    base = f"/api/v1/{client.prefix}"
    if not path.startswith(base):  # /health, /openapi.json and /docs belong to the system function
        reply = client.request_raw(method, path, resource=path, token=token)
    else:
        reply = client.request(method, path, token=token, json_body=body)
    return reply.status


def expired_token() -> str:
    now = int(time.time())
    _, claims = issue_token(typ="access", username="admin", tenant_id="default", role="admin", session_id="s")
    return jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize(("method", "path", "permission", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
@pytest.mark.parametrize("role", ["admin", "trader", "viewer"])
def test_route_role_gets_design_code(
    aws: object, method: str, path: str, permission: str | None, body: Any, role: str
) -> None:
    token, _ = issue_token(typ="access", username=role, tenant_id="default", role=role, session_id="s")
    status = request(path, method, token, body)
    if permission is None or permission in ROLE_PERMISSIONS[role]:
        assert status not in (401, 403), f"{role} should pass the permission check of {method} {path}"
        assert status < 500
    else:
        assert status == 403, f"{role} lacks {permission}: {method} {path} answered {status}"


@pytest.mark.parametrize(("method", "path", "permission", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
@pytest.mark.parametrize("credential", ["none", "expired"])
def test_route_without_valid_token_401(
    aws: object, method: str, path: str, permission: str | None, body: Any, credential: str
) -> None:
    token = None if credential == "none" else expired_token()
    assert request(path, method, token, body) == 401


@pytest.mark.parametrize(("method", "path"), PUBLIC)
@pytest.mark.parametrize("credential", ["none", "expired", "viewer"])
def test_public_route_answers_anyone(aws: object, method: str, path: str, credential: str) -> None:
    viewer, _ = issue_token(typ="access", username="viewer", tenant_id="default", role="viewer", session_id="s")
    token = {"none": None, "expired": expired_token(), "viewer": viewer}[credential]
    assert request(path, method, token, None) == 200

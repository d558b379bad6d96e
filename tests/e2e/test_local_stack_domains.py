"""Every demo user reads every REST domain of the running local stack, over real HTTP.

The codes follow the role table of DESIGN §3; what a user can read comes from its own tenant's
demo data (trade ids carry the tenant, so a leak would show).
"""

from __future__ import annotations

import re

import httpx
import pytest

from alphapulse.auth.models import ROLE_PERMISSIONS
from tests.conftest import DEMO_USERS
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

# path -> the permission it needs (DESIGN §4)
READS = {
    "/api/v1/metrics": "view_metrics",
    "/api/v1/metrics/sharpe_ratio?interval=1h": "view_metrics",
    "/api/v1/metrics/sharpe_ratio/latest": "view_metrics",
    "/api/v1/alerts": "view_alerts",
    "/api/v1/alerts/rules": "view_alerts",
    "/api/v1/portfolio?include_history=true": "view_portfolio",
    "/api/v1/portfolio/history": "view_portfolio",
    "/api/v1/trades?limit=5": "view_trades",
    "/api/v1/system": "view_system",
}


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_USERS[username][2]})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.mark.parametrize("username", sorted(DEMO_USERS))
def test_demo_user_reads_every_domain_it_is_allowed(local_stack: RunningStack, username: str) -> None:
    tenant, role, _ = DEMO_USERS[username]
    granted = ROLE_PERMISSIONS[role]
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        headers = _login(client, username)
        for path, permission in READS.items():
            reply = client.get(path, headers=headers)
            expected = 200 if permission in granted else 403
            assert reply.status_code == expected, (username, path, reply.text)
            if expected == 403:
                assert reply.json() == {"detail": f"Missing permission: {permission}"}
        if "view_trades" in granted:
            trades = client.get("/api/v1/trades?limit=50", headers=headers).json()["items"]
            assert trades, f"{username} sees no demo trades"
            seeded = [trade["trade_id"] for trade in trades if trade["trade_id"].startswith("T-")]
            assert seeded and all(trade_id.startswith(f"T-{tenant}-") for trade_id in seeded), seeded
            one = client.get(f"/api/v1/trades/{trades[0]['trade_id']}", headers=headers)
            assert one.status_code == 200 and one.json() == trades[0]
        if "view_portfolio" in granted:
            portfolio = client.get("/api/v1/portfolio", headers=headers).json()
            assert portfolio["updated_at"] is not None and portfolio["positions"], portfolio
        if "view_metrics" in granted:
            assert client.get("/api/v1/metrics", headers=headers).json()["items"]


def test_public_routes_need_no_token(local_stack: RunningStack) -> None:
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
        document = client.get("/api/v1/openapi.json").json()
        assert "/api/v1/trades/{trade_id}" in document["paths"]
        assert client.get("/api/v1/trades").status_code == 401


def test_docs_page_and_its_files_served_without_token(local_stack: RunningStack) -> None:
    # Routed by the template's two docs events, as API Gateway routes them.
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        page = client.get("/api/v1/docs")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        files = re.findall(r'(?:src|href)="(docs/[^"]+)"', page.text)
        assert len(files) == 4, page.text
        for relative in files:
            reply = client.get(f"/api/v1/{relative}")
            assert reply.status_code == 200, relative
            assert reply.headers["content-type"].startswith(("text/css", "text/javascript")), relative
            assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get("/api/v1/docs/swagger-ui-bundle.js.map").status_code == 404

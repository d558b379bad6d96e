"""The local stack serves the auth API over real HTTP, for every demo user."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.conftest import DEMO_USERS
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("username", sorted(DEMO_USERS))
def test_demo_user_logs_in_and_reads_me(local_stack: RunningStack, username: str) -> None:
    tenant, role, password = DEMO_USERS[username]
    with httpx.Client(base_url=local_stack.base_url, timeout=10) as client:
        login = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert login.status_code == 200, login.text
        tokens = login.json()
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200
        assert me.json()["tenant_id"] == tenant
        assert me.json()["role"] == role
        assert me.headers["x-request-id"]
        refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200


def test_outputs_resolve_to_local_values(local_stack: RunningStack) -> None:
    outputs = httpx.get(f"{local_stack.base_url}/_local/outputs").json()
    assert outputs["RestApiUrl"] == local_stack.base_url
    assert outputs["AuthTableName"]


def test_unknown_route_answers_like_api_gateway(local_stack: RunningStack) -> None:
    reply = httpx.get(f"{local_stack.base_url}/api/v1/nowhere")
    assert reply.status_code == 403
    assert reply.json() == {"message": "Missing Authentication Token"}


def test_ctrl_c_stops_every_process() -> None:
    stack = start_stack()
    pid = stack.process.pid
    assert stop_stack(stack) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listing = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-s", str(pid)], capture_output=True, text=True)
        alive = [line for line in listing.stdout.splitlines() if not line.lstrip().startswith("Z")]
        if not alive:
            return
        time.sleep(0.2)
    pytest.fail(f"processes left after Ctrl-C: {alive}")

"""The local stack serves the auth API over real HTTP, for every demo user."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_USERS, raw_websocket
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


def alive_in_session(pid: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-s", str(pid)], capture_output=True, text=True)
    return [line for line in listing.stdout.splitlines() if not line.lstrip().startswith("Z")]


def test_cors_origins_sets_the_allowed_origins(tmp_path: Path) -> None:
    stack = start_stack(logs=tmp_path, CORS_ORIGINS="https://desk.example,https://ops.example")
    try:
        for origin, allowed in (("https://ops.example", True), ("http://localhost:5173", False)):
            reply = httpx.get(f"{stack.base_url}/api/v1/health", headers={"Origin": origin})
            assert reply.status_code == 200
            assert (reply.headers.get("access-control-allow-origin") == origin) is allowed, reply.headers
    finally:
        stop_stack(stack)


def test_ctrl_c_with_three_clients_connected_stops_every_process_within_5_s_without_a_traceback(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    stack = start_stack(logs=tmp_path)
    login = {"username": "trader", "password": DEMO_USERS["trader"][2]}
    token = httpx.post(f"{stack.base_url}/api/v1/auth/token", data=login).json()["access_token"]
    opened = contextlib.ExitStack()
    clients = [opened.enter_context(connect(f"{stack.ws_url}?token={token}", open_timeout=20)) for _ in range(2)]
    silent = raw_websocket(stack.ws_url, f"token={token}")  # then never reads: no close handshake
    try:
        for client in clients:
            client.send('{"action":"subscribe","channels":["trades"]}')
            assert "subscribed" in str(client.recv(timeout=20))
        pid = stack.process.pid
        stopped_at = time.monotonic()
        os.killpg(pid, signal.SIGINT)  # as a terminal's Ctrl-C: to every process of the group
        while alive_in_session(pid) and time.monotonic() - stopped_at < 15:
            time.sleep(0.1)
        took = time.monotonic() - stopped_at
        left = alive_in_session(pid)
    finally:
        silent.close()
        opened.close()
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
    printed = stack.log.read_text()
    assert not left, f"processes left {took:.1f} s after Ctrl-C: {left}"
    assert took <= 5, f"Ctrl-C took {took:.1f} s"
    assert "Traceback" not in printed, printed[-3000:]
    assert stack.process.returncode == 0

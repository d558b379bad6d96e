"""The dashboard on the local stack's REST origin: the page, its config.json, and the API unchanged beside it."""

from __future__ import annotations

import httpx

from devstack.dashboard import DIST
from tests.e2e.conftest import RunningStack


def test_dashboard_config_json_points_at_the_stacks_apis(local_stack: RunningStack) -> None:
    reply = httpx.get(f"{local_stack.base_url}/config.json")
    assert reply.status_code == 200
    assert reply.json() == {"apiUrl": "/api/v1", "webSocketUrl": local_stack.ws_url}
    assert reply.json()["webSocketUrl"].startswith("ws://127.0.0.1:")


def test_dashboard_page_is_served_at_the_root(local_stack: RunningStack) -> None:
    reply = httpx.get(f"{local_stack.base_url}/")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>AlphaPulse</title>" in reply.text
    built = DIST / "index.html"
    if built.exists():  # built by `make run` or `make test`: the page and its assets, as built
        assert reply.text == built.read_text()
        for asset in (DIST / "assets").iterdir():
            served = httpx.get(f"{local_stack.base_url}/assets/{asset.name}")
            assert (served.status_code, served.content) == (200, asset.read_bytes())


def test_dashboard_leaves_unknown_paths_to_api_gateway(local_stack: RunningStack) -> None:
    for path in ("/nowhere", "/.vite/manifest.json", "/assets/missing.js"):
        reply = httpx.get(f"{local_stack.base_url}{path}")
        assert (reply.status_code, reply.json()) == (403, {"message": "Missing Authentication Token"})

"""The response cache through `make run`'s local stack, over real HTTP: MISS then HIT, 304, invalidation by an
event on the bus while other domains stay cached, and 20 concurrent misses of one request computed once."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import DEMO_USERS
from tests.e2e.conftest import RunningStack
from tests.e2e.test_websocket import put_trade

pytestmark = pytest.mark.e2e


def login(client: httpx.Client, username: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_USERS[username][2]})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def test_miss_hit_304_and_an_event_invalidates_only_its_domains(local_stack: RunningStack) -> None:
    with httpx.Client(base_url=local_stack.base_url, timeout=20) as client:
        headers = login(client, "trader")
        time.sleep(1.1)  # entries filled within a second of a change (the demo data) are kept only briefly
        # A query of its own, so that no other test filled it
        trades, alerts = f"/api/v1/trades?limit={uuid.uuid4().int % 400 + 50}", "/api/v1/alerts?limit=77"
        first = client.get(trades, headers=headers)
        second = client.get(trades, headers=headers)
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
        assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
        assert second.headers["cache-control"].startswith("private, max-age=")
        not_modified = client.get(trades, headers={**headers, "If-None-Match": first.headers["etag"]})
        assert (not_modified.status_code, not_modified.content) == (304, b"")
        client.get(alerts, headers=headers)
        assert client.get(alerts, headers=headers).headers["x-cache"] == "HIT"
        # When a trade arrives on the bus, the trades answer misses with it, at once after its ingest
        trade_id = put_trade(local_stack, "default")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reply = client.get(trades, headers={**headers, "If-None-Match": first.headers["etag"]})
            if reply.status_code == 200:
                break
            time.sleep(0.1)
        assert reply.status_code == 200 and reply.headers["etag"] != first.headers["etag"]
        assert reply.json()["items"][0]["trade_id"] == trade_id
        # while the alerts answer is still the cached one
        assert client.get(alerts, headers=headers).headers["x-cache"] == "HIT"


def test_twenty_concurrent_misses_of_one_request_are_computed_once(local_stack: RunningStack) -> None:
    with httpx.Client(base_url=local_stack.base_url, timeout=30) as client:
        headers = login(client, "viewer")
    time.sleep(1.1)
    path = f"/api/v1/trades?limit={uuid.uuid4().int % 400 + 50}&side=buy"

    def get(_: int) -> httpx.Response:
        return httpx.get(local_stack.base_url + path, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(get, range(20)))
    assert [reply.status_code for reply in replies] == [200] * 20
    assert sorted(reply.headers["x-cache"] for reply in replies) == ["HIT"] * 19 + ["MISS"]
    assert len({reply.content for reply in replies}) == 1

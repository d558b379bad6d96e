"""Fixtures of the real-time tests: the template's tables in moto and an in-process fake of the
WebSocket management API that records every call and answers as scripted (410, 413, 429...)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.realtime.repositories import CONNECTED_TENANTS
from tests.conftest import reset_caches

MAX_MESSAGE_BYTES = 128 * 1024


@dataclass(frozen=True)
class Call:
    method: str
    connection_id: str
    body: bytes
    headers: dict[str, str]


class FakeManagementApi:
    """`POST/GET/DELETE /@connections/{id}` on loopback. Every connection is open unless closed or scripted."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[Call] = []
        self.closed: set[str] = set()  # answered 410, as API Gateway does for closed connections
        self.scripts: dict[str, list[int]] = defaultdict(list)  # per connection: statuses to answer first
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix = "/@connections/"
                connection_id = unquote(self.path[len(prefix) :]) if self.path.startswith(prefix) else ""
                status = owner.answer(
                    self.command, connection_id, body, {k.lower(): v for k, v in self.headers.items()}
                )
                payload = b"" if status == 200 else json.dumps({"message": f"status {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def answer(self, method: str, connection_id: str, body: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                self.calls.append(Call(method, connection_id, body, headers))
                if "execute-api/aws4_request" not in headers.get("authorization", ""):
                    return 403
                if self.scripts[connection_id]:
                    return self.scripts[connection_id].pop(0)
                if connection_id in self.closed:
                    return 410
                if method == "DELETE":
                    self.closed.add(connection_id)
                if method == "POST" and len(body) > MAX_MESSAGE_BYTES:
                    return 413
                return 200
        finally:
            with self._lock:
                self.in_flight -= 1

    def messages(self, connection_id: str) -> list[dict[str, Any]]:
        """What reached the connection (answered 200), in order."""
        with self._lock:
            posts = [c for c in self.calls if c.method == "POST" and c.connection_id == connection_id]
        return [json.loads(c.body) for c in posts]

    def deleted(self, connection_id: str) -> bool:
        return any(c.method == "DELETE" and c.connection_id == connection_id for c in self.calls)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[FakeManagementApi]:
    api = FakeManagementApi()
    yield api
    api.stop()


def clear_realtime_caches() -> None:
    from alphapulse.auth.logic import tokens

    reset_caches()
    tokens._verified.clear()


@pytest.fixture
def realtime(
    aws: dict[str, str], gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """moto with the template's tables, and the settings the WebSocket functions get, pointed at the fake API."""
    monkeypatch.setenv("CONNECTIONS_TABLE", aws["ConnectionsTable"])
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", gateway.endpoint)
    monkeypatch.delenv("FANOUT_QUEUE_URL", raising=False)
    clear_realtime_caches()
    yield aws
    clear_realtime_caches()


def access_token(role: str = "trader", tenant: str = "default", *, now: int | None = None) -> str:
    return issue_token(typ="access", username=f"{tenant}-{role}", tenant_id=tenant, role=role, session_id="s", now=now)[
        0
    ]


def table_items(table: str, *, listings: bool = False) -> list[dict[str, Any]]:
    """Every item of the table; the connected-tenant listings (which outlive connections) only if asked."""
    import boto3

    from alphapulse.aws.dynamodb import from_item

    client = boto3.client("dynamodb", region_name="us-east-1")
    items = [from_item(item) for item in client.scan(TableName=table).get("Items", [])]
    return [item for item in items if listings or item["pk"] != CONNECTED_TENANTS]

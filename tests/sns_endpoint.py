"""An HTTP(S) endpoint that an SNS topic delivers to, for the tests of the local stack's notifications: it records
every POST, answers with the statuses it is given, and confirms its subscription through `confirm`."""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

from devstack.ports import free_port

TIMEOUT = 10.0


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]  # names in lower case
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def kind(self) -> str:
        return self.headers["x-amz-sns-message-type"]


class SnsEndpoint:
    """On a free loopback port; with `tls`, over HTTPS with a certificate of its own authority (`ca_file`)."""

    def __init__(self, *, tls: bool, confirm: Callable[[str], None] | None = None) -> None:
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/alerts"
        self.deliveries: list[Delivery] = []
        self.statuses: list[int] = []  # answered in turn, then 200
        self._confirm = confirm
        self._changed = threading.Condition()
        self._folder = tempfile.TemporaryDirectory(prefix="sns-endpoint-")
        self.ca_file = Path(self._folder.name, "ca.pem")
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(endpoint._next_status())
                self.send_header("Content-Length", "0")
                self.end_headers()
                endpoint._received(delivery)  # once answered: a test may change the statuses when it sees it

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if tls:
            authority = trustme.CA()
            authority.cert_pem.write_to_path(str(self.ca_file))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sns-endpoint", daemon=True)

    def __enter__(self) -> SnsEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._folder.cleanup()

    def _next_status(self) -> int:
        with self._changed:
            return self.statuses.pop(0) if self.statuses else 200

    def _received(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        if delivery.kind == "SubscriptionConfirmation" and self._confirm is not None:
            # As a real endpoint: on another thread.
            threading.Thread(target=self._confirm, args=(delivery.json()["SubscribeURL"],), daemon=True).start()

    def of(self, kind: str) -> list[Delivery]:
        with self._changed:
            return [delivery for delivery in self.deliveries if delivery.kind == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = TIMEOUT) -> list[Delivery]:
        """The deliveries of this kind, once there are `count` (fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.of(kind)) < count and time.monotonic() < deadline:
                self._changed.wait(0.1)
        found = self.of(kind)
        assert len(found) >= count, f"{len(found)} {kind} deliveries, expected {count}"
        return found

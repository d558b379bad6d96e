"""Fakes shared by the tests: an in-process WebSocket management API, a recorder of pushes, an in-memory metric
reader, a scripted AWS endpoint and an SNS topic with a queue on moto. Logic gets them through its parameters or a
domain's wiring, never by patching."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from alphapulse.metrics.models import MetricValue

MAX_MESSAGE_BYTES = 128 * 1024


@dataclass
class Call:
    """One request to the management API, and the status it was answered."""

    method: str
    connection_id: str
    body: bytes
    headers: dict[str, str]
    status: int = 0


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
                call = Call(method, connection_id, body, headers)
                self.calls.append(call)
                call.status = self._status(call)
                return call.status
        finally:
            with self._lock:
                self.in_flight -= 1

    def _status(self, call: Call) -> int:
        if "execute-api/aws4_request" not in call.headers.get("authorization", ""):
            return 403
        if self.scripts[call.connection_id]:
            return self.scripts[call.connection_id].pop(0)
        if call.connection_id in self.closed:
            return 410
        if call.method == "DELETE":
            self.closed.add(call.connection_id)
        if call.method == "POST" and len(call.body) > MAX_MESSAGE_BYTES:
            return 413
        return 200

    def messages(self, connection_id: str) -> list[dict[str, Any]]:
        """What reached the connection (answered 200), in order."""
        with self._lock:
            posts = [
                c for c in self.calls if c.method == "POST" and c.connection_id == connection_id and c.status == 200
            ]
        return [json.loads(c.body) for c in posts]

    def deleted(self, connection_id: str) -> bool:
        return any(c.method == "DELETE" and c.connection_id == connection_id for c in self.calls)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PushRecorder:
    """`realtime.wiring.publish`, recorded; `fail` makes the next calls raise (a push queue that is down)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.push_ids: list[str] = []
        self.fail = 0

    def publish(self, tenant_id: str, channel: str, type_: str, data: Mapping[str, Any] | None, *, push_id: str) -> int:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("push queue unavailable")
        # A round trip through JSON: what a subscriber would receive.
        self.calls.append((tenant_id, channel, type_, json.loads(json.dumps(data))))
        self.push_ids.append(push_id)
        return len(self.calls)

    def of(self, channel: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        return [call for call in self.calls if call[1] == channel]


class InlineChannelQueue:
    """The push queue with the publisher run at once, in the sender's thread, one message group at a time and in
    the order the group's senders got their turn (what a FIFO queue and its one consumer guarantee). Its
    consumer is `realtime.wiring.dependencies()`; a record the publisher reports failed raises here."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (group, body)
        self._groups: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._ids = itertools.count(1)

    def send(self, tenant_id: str, channel: str, body: str, *, deduplication_id: str) -> None:
        from alphapulse.realtime import wiring
        from alphapulse.realtime.logic.publisher import Record, process
        from alphapulse.realtime.repositories.connections import channel_partition

        group = channel_partition(tenant_id, channel)
        with self._guard:
            lock = self._groups.setdefault(group, threading.Lock())
        with lock:
            self.sent.append((group, body))
            deps = wiring.dependencies()
            record = Record(f"m-{next(self._ids)}", group, body)
            if process([record], deps.broadcaster, deps.catch_ups, seconds_left=lambda: 30.0):
                raise RuntimeError("the publisher failed the record")


class FakeReader:
    """In-memory MetricReader."""

    def __init__(self, series: dict[str, list[tuple[datetime, float]]]) -> None:
        self.series = series
        self.windows: list[tuple[datetime, datetime]] = []

    def latest_all(self, tenant_id: str) -> list[MetricValue]:
        return []

    def latest(self, tenant_id: str, metric: str) -> MetricValue | None:
        return None

    def points(
        self, tenant_id: str, metric: str, start: datetime, end: datetime, *, limit: int
    ) -> list[tuple[datetime, float]]:
        self.windows.append((start, end))
        found = sorted(p for p in self.series.get(metric, []) if start <= p[0] <= end)
        return found[: limit + 1]


class ChangeRecorder:
    """`cache.wiring.changed`, recorded: (tenant, domains) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, tenant_id: str, *domains: str) -> None:
        self.calls.append((tenant_id, domains))


def topic_to_queue(endpoint: str, topic: str, queue: str, policy: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """An SNS topic on moto with an SQS queue subscribed (raw delivery; `policy` filters on message attributes):
    (topic ARN, queue URL). Read what arrived with boto3's SQS client."""
    import boto3

    sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    topic_arn: str = sns.create_topic(Name=topic)["TopicArn"]
    url: str = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"}
    if policy:
        attributes |= {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return topic_arn, url


class ScriptedServer:
    """A loopback HTTP server answering each POST with the next scripted (status, body, headers), and keeping
    each request as {"headers": lower-cased, "body": decode(body)}; `endpoint` is its URL."""

    def __init__(self, script: list[tuple[int, bytes, dict[str, str]]], decode: Any = bytes) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append(
                    {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": decode(body)}
                )
                status, payload, headers = owner.script.pop(0)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""The real-time path end to end, through the local stack as `make run` starts it (`make bench`).

Prints, in one run:
- event to client: from `PutEvents` of a TradeExecuted on the bus to its push at a subscribed WebSocket
  client (p50, p95), against the same run's round trip of `GET /api/v1/health` through the stack;
- one channel's throughput: N events put by several threads at once, until a subscriber has them all
  (pushes per second), with the pushes that arrived out of `seq` order or twice;
- resume: a client that missed 500 pushes subscribes with `since`; the time until all 500 are replayed;
- the publisher alone: pushes queued straight on the push queue (devstack.demo.load), as fast as they can be
  queued, until a subscriber has them all (pushes per second one channel sustains behind the bus);
- resume on a busy channel: while pushes are queued at 100/s, a client drops, misses a second of them and
  resumes with `since`: whether it gets every missed push in order and then live, without resync_required.

The stack runs with its default concurrency (DEVSTACK_CONCURRENCY, 4 warm workers per function).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # devstack, when run as a plain script

import boto3  # noqa: E402
import httpx  # noqa: E402
import websockets  # noqa: E402

from devstack.demo.load import PushFeed  # noqa: E402
from devstack.ports import free_port  # noqa: E402

SECRET = "bench-realtime-" + uuid.uuid4().hex + uuid.uuid4().hex


class Stack:
    def __init__(self) -> None:
        self.http_port, self.aws_port, self.ws_port = free_port(), free_port(), free_port()
        env = {**os.environ, "HTTP_PORT": str(self.http_port), "AWS_PORT": str(self.aws_port),
               "WS_PORT": str(self.ws_port), "JWT_SECRET": SECRET, "DEMO_FEED": "0"}  # fmt: skip
        self.log = tempfile.NamedTemporaryFile(prefix="bench-stack-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, env=env, text=True,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.base = f"http://127.0.0.1:{self.http_port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                printed = Path(self.log.name).read_text()[-3000:]
                self.stop()
                raise RuntimeError(printed)
            try:
                reply = httpx.get(f"{self.base}/_local/outputs", timeout=1)
                if reply.status_code == 200:
                    self.outputs: dict[str, str] = reply.json()
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("the local stack did not start within 90 s")
        self.events = boto3.client("events", endpoint_url=f"http://127.0.0.1:{self.aws_port}", region_name="us-east-1",
                                   aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106  # fmt: skip
        self.sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{self.aws_port}", region_name="us-east-1",
                                aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106  # fmt: skip

    def feed(self, rate: float) -> PushFeed:
        return PushFeed(self.sqs, self.outputs["PushQueueUrl"], rate=rate).start()

    def token(self) -> str:
        form = {"username": "trader", "password": "trader-demo-password"}
        return str(httpx.post(f"{self.base}/api/v1/auth/token", data=form, timeout=10).json()["access_token"])

    def put_trade(self, trade_id: str) -> None:
        detail = {"trade_id": trade_id, "symbol": "AAPL", "side": "buy", "quantity": 1, "price": 100.0,
                  "status": "filled", "order_type": "market", "executed_at": _now_iso()}  # fmt: skip
        entry = {"Source": "alphapulse.trading", "DetailType": "TradeExecuted", "Detail": json.dumps(detail),
                 "EventBusName": self.outputs["EventBusName"]}  # fmt: skip
        self.events.put_events(Entries=[entry])

    def stop(self) -> None:
        """Ctrl-C, then its log removed."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Subscriber:
    """A WebSocket client on its own thread, subscribed to `trades`, recording each push's arrival."""

    def __init__(self, stack: Stack, token: str, since: int | None = None) -> None:
        self.arrivals: dict[str, float] = {}
        self.seqs: list[int] = []
        self.other: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._url = f"{stack.outputs['WebSocketUrl']}?token={token}"
        self._since = since
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the subscriber did not get `subscribed`")

    async def _run(self) -> None:
        async with websockets.connect(self._url, max_size=None) as socket:
            frame: dict[str, Any] = {"action": "subscribe", "channels": ["trades"]}
            if self._since is not None:
                frame["since"] = {"trades": self._since}
            await socket.send(json.dumps(frame))
            while not self._stop.is_set():
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), timeout=0.2))
                except TimeoutError:
                    continue
                if message.get("type") == "subscribed":
                    self._ready.set()
                elif message.get("type") == "trade":
                    self.arrivals.setdefault(message["data"]["trade_id"], time.perf_counter())
                    self.seqs.append(int(message["seq"]))
                else:
                    self.other.append(message)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.seqs) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.seqs) >= count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def disorder(seqs: list[int]) -> tuple[int, int]:
    """(pushes that arrived after a higher seq, pushes that arrived twice)."""
    late, highest, seen, twice = 0, 0, set(), 0
    for seq in seqs:
        twice += seq in seen
        seen.add(seq)
        late += seq < highest
        highest = max(highest, seq)
    return late, twice


def event_to_client(stack: Stack, token: str, count: int) -> None:
    health = []
    for _ in range(count):
        started = time.perf_counter()
        httpx.get(f"{stack.base}/api/v1/health", timeout=10)
        health.append(time.perf_counter() - started)
    client = Subscriber(stack, token)
    sent: dict[str, float] = {}
    for n in range(count):
        trade_id = f"lat-{n}-{uuid.uuid4().hex[:8]}"
        sent[trade_id] = time.perf_counter()
        stack.put_trade(trade_id)
        time.sleep(0.05)  # one event at a time: latency, not queueing
    client.wait_for(count, timeout=60)
    client.close()
    latencies = [client.arrivals[t] - s for t, s in sent.items() if t in client.arrivals]
    p50, p95, base = percentile(latencies, 0.5), percentile(latencies, 0.95), statistics.median(health)
    print(
        f"event to client ({len(latencies)}/{count} arrived, one at a time): p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms (target < 500 ms), max {max(latencies) * 1000:.0f} ms; p95 = {p95 / base:.1f}x "
        f"the p50 round trip of /health ({base * 1000:.1f} ms)"
    )


def throughput(stack: Stack, token: str, count: int, threads: int) -> None:
    client = Subscriber(stack, token)
    started = time.perf_counter()
    per_thread = count // threads

    def put(worker: int) -> None:
        for n in range(per_thread):
            stack.put_trade(f"tp-{worker}-{n}-{uuid.uuid4().hex[:6]}")

    workers = [threading.Thread(target=put, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    put_done = time.perf_counter() - started
    arrived = client.wait_for(per_thread * threads, timeout=120)
    elapsed = time.perf_counter() - started
    client.close()
    late, twice = disorder(client.seqs)
    print(f"one channel: {len(client.seqs)}/{per_thread * threads} pushes from {threads} concurrent publishers in "
          f"{elapsed:.1f} s = {len(client.seqs) / elapsed:.0f} pushes/s (events put in {put_done:.1f} s); "
          f"{late} out of seq order, {twice} twice{'' if arrived else '; NOT ALL ARRIVED'}")  # fmt: skip


def resume(stack: Stack, token: str, missed: int) -> None:
    first = Subscriber(stack, token)
    stack.put_trade(f"before-{uuid.uuid4().hex[:8]}")
    first.wait_for(1, timeout=30)
    since = max(first.seqs)
    first.close()
    witness = Subscriber(stack, token)  # tells when all the missed pushes are published and logged
    for n in range(missed):
        stack.put_trade(f"missed-{n}-{uuid.uuid4().hex[:6]}")
    witness.wait_for(missed, timeout=120)
    witness.close()
    started = time.perf_counter()
    back = Subscriber(stack, token, since=since)
    complete = back.wait_for(missed, timeout=60)
    elapsed = time.perf_counter() - started
    back.close()
    resyncs = sum(1 for m in back.other if m.get("type") == "resync_required")
    print(f"resume: {len(back.seqs)}/{missed} missed pushes replayed in {elapsed:.2f} s "
          f"({resyncs} resync_required){'' if complete else '; NOT ALL REPLAYED'}")  # fmt: skip


def publisher_alone(stack: Stack, token: str, count: int) -> None:
    client = Subscriber(stack, token)
    start = len(client.seqs)
    started = time.perf_counter()
    feed = stack.feed(rate=10_000)  # as fast as SendMessageBatch goes
    while len(feed.sent) < count:
        time.sleep(0.01)
    sent = len(feed.stop())
    arrived = client.wait_for(start + sent, timeout=120)
    elapsed = time.perf_counter() - started
    client.close()
    late, twice = disorder(client.seqs)
    print(f"publisher alone: {len(client.seqs) - start}/{sent} pushes queued straight on the push queue arrived in "
          f"{elapsed:.1f} s = {(len(client.seqs) - start) / elapsed:.0f} pushes/s; {late} out of seq order, "
          f"{twice} twice{'' if arrived else '; NOT ALL ARRIVED'}")  # fmt: skip


def resume_busy(stack: Stack, token: str, rate: float, dropped_seconds: float) -> None:
    witness = Subscriber(stack, token)
    feed = stack.feed(rate)
    first = Subscriber(stack, token)
    time.sleep(2.0)
    first.close()
    since = max(first.seqs)
    time.sleep(dropped_seconds)
    back = Subscriber(stack, token, since=since)
    time.sleep(2.0)
    sent = len(feed.stop())
    witness.wait_for(sent, timeout=60)
    last = max(witness.seqs)
    complete = back.wait_for(last - since, timeout=60)
    back.close()
    witness.close()
    window = witness.arrivals.values()
    carried = len(witness.seqs) / (max(window) - min(window)) if len(witness.seqs) > 1 else 0.0
    in_order = back.seqs == list(range(since + 1, last + 1))
    resyncs = sum(1 for m in back.other if m.get("type") == "resync_required")
    print(f"resume on a busy channel: queued at {rate:.0f}/s, carried {carried:.0f} pushes/s; a client that missed "
          f"{dropped_seconds:.1f} s got {len(back.seqs)}/{last - since} pushes from seq {since + 1}, "
          f"{'all in order' if in_order else 'NOT IN ORDER'}, {resyncs} resync_required"
          f"{'' if complete else '; NOT ALL ARRIVED'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-events", type=int, default=50)
    parser.add_argument("--throughput-events", type=int, default=400)
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--missed", type=int, default=500)
    parser.add_argument("--publisher-pushes", type=int, default=1000)
    parser.add_argument("--busy-rate", type=float, default=100.0)
    args = parser.parse_args()
    stack = Stack()
    try:
        token = stack.token()
        event_to_client(stack, token, args.latency_events)
        throughput(stack, token, args.throughput_events, args.publishers)
        resume(stack, token, args.missed)
        publisher_alone(stack, token, args.publisher_pushes)
        resume_busy(stack, token, args.busy_rate, dropped_seconds=1.0)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()

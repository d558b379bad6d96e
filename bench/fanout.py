"""Fan-out benchmark: one publish to N WebSocket subscribers through a management API that answers after 20 ms.

    .venv/bin/python bench/fanout.py [--sizes 1000 10000] [--latency-ms 20] [--sample 200] [--json out.json]

The management API is a stand-in (asyncio, HTTP/1.1 keep-alive) in its own process, answering every
`POST /@connections/{id}` with 200 after `--latency-ms`, as API Gateway takes about that long. The publish
is the layer's real `Broadcaster.publish`: SigV4-signed sends from `Fanout`'s bounded thread pool, each
thread with its own keep-alive connection. Only DynamoDB is replaced, by an in-memory channel (seq, log and
the N subscribers): what is measured is the fan-out, not moto.

The peer is what a user would write instead, measured in the same run against the same stand-in: boto3's
`apigatewaymanagementapi` client with `max_pool_connections=200`, and `post_to_connection` of the same
message to the same N connections from a `ThreadPoolExecutor(200)`.

Printed per N, for ours and for the peer: the wall time, deliveries per second, CPU microseconds per
delivery (user + system time of this process: the stand-in runs in another), and ours as a ratio to the
peer. Also the ratio against a sequential-send baseline (one thread sending to a sample of `--sample`
connections, extrapolated to N), the peak of Python allocations during one publish (tracemalloc, in a
separate untimed publish) and the process's peak RSS. Targets at 10,000 subscribers and 20 ms per send:
ours >= 2x the peer's deliveries/s and <= 0.5x its CPU per delivery; at most 2 s (>= 5,000
deliveries/s); at least 100x the sequential rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devstack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers/common/python"))

TARGET_RATE = 5000.0
TARGET_RATIO = 100.0
TARGET_SECONDS = 2.0
TARGET_PEER_RATE = 2.0  # ours / the peer's deliveries per second, at least
TARGET_PEER_CPU = 0.5  # ours / the peer's CPU per delivery, at most
PEER_THREADS = 200


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Peer:
    """What a user would write: boto3's client and a thread pool of the same size as its connection pool."""

    def __init__(self, port: int, credentials: Any) -> None:
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
            config=Config(max_pool_connections=PEER_THREADS),
        )
        self.pool = ThreadPoolExecutor(PEER_THREADS)

    def send(self, connection_ids: list[str], message: bytes) -> None:
        def post(connection_id: str) -> None:
            self.client.post_to_connection(ConnectionId=connection_id, Data=message)

        for _ in self.pool.map(post, connection_ids):
            pass


# --- the management API stand-in (its own process: it must not share this process's GIL) ------------------


def serve(port: int, latency: float, ready: Any) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                await asyncio.sleep(latency)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- an in-memory channel: the DynamoDB side of publish, out of the way -----------------------------------


def one_trade() -> list[Any]:
    """One trade push, as the publisher function hands it to `Broadcaster.publish`."""
    from alphapulse.realtime.protocol import PushRequest

    return [PushRequest("default", "trades", "trade", TRADE, time.time())]


class MemoryChannel:
    def __init__(self, audience: int) -> None:
        from alphapulse.realtime.models import Subscriber

        expires = int(time.time()) + 3600
        self.audience = [Subscriber(f"Conn{n:08d}=", expires) for n in range(audience)]
        self.seq = 0

    def take_seqs(self, tenant_id: str, channel: str, count: int, *, batch_id: str) -> Any:
        from alphapulse.realtime.models import Numbered

        self.seq += count
        return Numbered(self.seq - count + 1)

    def append(self, tenant_id: str, channel: str, entries: list[Any], *, expires_at: int) -> None:
        pass

    def subscribers(self, tenant_id: str, channel: str, seq: int) -> Iterator[Any]:
        return iter(self.audience)


class NoConnections:
    def remove(self, connection_id: str, tenant_id: str | None = None) -> None:
        raise AssertionError(f"{connection_id} was not expected to go")


TRADE = {
    "trade_id": "T-20261124-000042",
    "symbol": "AAPL",
    "side": "buy",
    "quantity": 100,
    "price": 228.51,
    "fees": 1.14,
    "status": "filled",
    "order_type": "market",
    "executed_at": "2026-11-24T02:30:00.000000Z",
    "strategy": "momentum",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--sample", type=int, default=200, help="sends of the sequential baseline")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # no log line per publish in the output
    from alphapulse.aws.management_api import ManagementApiClient
    from alphapulse.aws.sigv4 import Credentials
    from alphapulse.realtime.logic.broadcast import FANOUT_CONCURRENCY, Broadcaster, Fanout
    from alphapulse.realtime.protocol import encode, push

    port, ready = free_port(), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, args.latency_ms / 1000, ready), daemon=True)
    server.start()
    ready.wait(10)
    try:
        credentials = Credentials("AKIDBENCH", "bench-secret", "bench-token")
        api = ManagementApiClient(
            endpoint=f"http://127.0.0.1:{port}", region="us-east-1", credentials=lambda: credentials
        )
        fanout = Fanout(api, NoConnections(), concurrency=FANOUT_CONCURRENCY)  # type: ignore[arg-type]

        # Sequential baseline: the same client and message, one send after another.
        message = encode(push("trade", "trades", 1, __import__("datetime").datetime.now(), TRADE))
        api.post_to_connection("warm-up=", message)
        started = time.perf_counter()
        for n in range(args.sample):
            api.post_to_connection(f"Seq{n:08d}=", message)
        sequential_rate = args.sample / (time.perf_counter() - started)
        print(
            f"sequential baseline: {args.sample} sends in {args.sample / sequential_rate:.2f} s "
            f"= {sequential_rate:,.0f} deliveries/s ({1000 / sequential_rate:.1f} ms per send)"
        )
        print(
            f"fan-out pool: {FANOUT_CONCURRENCY} threads, one keep-alive connection each; "
            f"management API latency {args.latency_ms:.0f} ms\n"
        )

        peer = Peer(port, credentials)
        peer.send([f"Warm{n:08d}=" for n in range(2 * PEER_THREADS)], message)  # open its pool's connections
        results: dict[str, Any] = {
            "sequential_rate": sequential_rate,
            "concurrency": FANOUT_CONCURRENCY,
            "latency_ms": args.latency_ms,
            "sizes": {},
        }
        columns = (
            ("N", 7),
            ("subject", 8),
            ("seconds", 8),
            ("deliveries/s", 13),
            ("CPU us/delivery", 16),
            ("x peer rate", 12),
            ("x peer CPU", 11),
            ("x sequential", 13),
            ("peak alloc MB", 14),
            ("max RSS MB", 11),
        )
        header = " ".join(f"{name:>{width}}" for name, width in columns) + "  targets"
        print(header)
        print("-" * len(header))
        for size in args.sizes:
            connection_ids = [f"Peer{n:08d}=" for n in range(size)]
            cpu, started = cpu_seconds(), time.perf_counter()
            peer.send(connection_ids, message)
            peer_elapsed, peer_cpu = time.perf_counter() - started, cpu_seconds() - cpu
            channel = MemoryChannel(size)
            broadcaster = Broadcaster(channel, fanout, retention_seconds=3600, shard_threshold=size)  # type: ignore[arg-type]
            broadcaster.publish(one_trade(), batch_id="warm")  # warm: pool threads and their connections
            cpu, started = cpu_seconds(), time.perf_counter()
            broadcaster.publish(one_trade(), batch_id="timed")
            elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
            rate, peer_rate = size / elapsed, size / peer_elapsed
            cpu_us, peer_cpu_us = used / size * 1e6, peer_cpu / size * 1e6
            ratio = rate / sequential_rate
            tracemalloc.start()
            broadcaster.publish(one_trade(), batch_id="traced")
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            marks = []
            if size >= 10000:
                marks.append(f">= {TARGET_PEER_RATE:.0f}x peer rate {verdict(rate / peer_rate >= TARGET_PEER_RATE)}")
                marks.append(f"<= {TARGET_PEER_CPU}x peer CPU {verdict(cpu_us / peer_cpu_us <= TARGET_PEER_CPU)}")
                marks.append(f"<= {TARGET_SECONDS:.0f} s {verdict(elapsed <= TARGET_SECONDS)}")
                marks.append(f">= {TARGET_RATIO:.0f}x sequential {verdict(ratio >= TARGET_RATIO)}")
            print(
                f"{size:>7,} {'ours':>8} {elapsed:>8.2f} {rate:>13,.0f} {cpu_us:>16,.0f} {rate / peer_rate:>12.2f} "
                f"{cpu_us / peer_cpu_us:>11.2f} {ratio:>13.1f} {peak:>14.1f} {rss:>11.1f}  {'; '.join(marks)}"
            )
            print(
                f"{size:>7,} {'peer':>8} {peer_elapsed:>8.2f} {peer_rate:>13,.0f} {peer_cpu_us:>16,.0f} "
                f"{1:>12.2f} {1:>11.2f} {peer_rate / sequential_rate:>13.1f}"
            )
            results["sizes"][str(size)] = {
                "seconds": elapsed,
                "deliveries_per_second": rate,
                "cpu_us_per_delivery": cpu_us,
                "peer_seconds": peer_elapsed,
                "peer_deliveries_per_second": peer_rate,
                "peer_cpu_us_per_delivery": peer_cpu_us,
                "ratio_to_peer_rate": rate / peer_rate,
                "ratio_to_peer_cpu": cpu_us / peer_cpu_us,
                "ratio": ratio,
                "peak_alloc_mb": peak,
                "max_rss_mb": rss,
                "targets": marks,
            }
        print(
            f"\npeer: boto3 apigatewaymanagementapi, max_pool_connections={PEER_THREADS}, ThreadPoolExecutor"
            f"({PEER_THREADS}); CPU: user + system time of this process (the stand-in runs in another); "
            f"sequential: {args.sample} sends extrapolated to N; peak alloc: tracemalloc during one (untimed) "
            "publish; max RSS: the whole process so far."
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        server.terminate()
        server.join(5)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    main()

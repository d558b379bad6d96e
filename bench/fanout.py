"""Fan-out benchmark: one publish to N WebSocket subscribers through a management API that answers after 20 ms.

    .venv/bin/python bench/fanout.py [--sizes 1000 10000] [--latency-ms 20] [--sample 200] [--json out.json]

The management API is a stand-in (asyncio, HTTP/1.1 keep-alive) in its own process, answering every
`POST /@connections/{id}` with 200 after `--latency-ms`, as API Gateway takes about that long. The publish
is the layer's real `Broadcaster.publish`: SigV4-signed sends from `Fanout`'s bounded thread pool, each
thread with its own keep-alive connection. Only DynamoDB is replaced, by an in-memory channel (seq, log and
the N subscribers): what is measured is the fan-out, not moto.

Printed per N: the publish's wall time, deliveries per second, the ratio against a sequential-send baseline
measured in the same run (one thread sending to a sample of `--sample` connections, extrapolated to N), and
the peak of Python allocations during one publish (tracemalloc, in a separate untimed publish) and the
process's peak RSS. Targets: 10,000 subscribers at 20 ms per send in at most 2 s (>= 5,000 deliveries/s),
and at least 100x the sequential rate.
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
from pathlib import Path
from typing import Any

from devstack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers/common/python"))

TARGET_RATE = 5000.0
TARGET_RATIO = 100.0
TARGET_SECONDS = 2.0


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

        results: dict[str, Any] = {
            "sequential_rate": sequential_rate,
            "concurrency": FANOUT_CONCURRENCY,
            "latency_ms": args.latency_ms,
            "sizes": {},
        }
        columns = (
            ("N", 7),
            ("publish s", 10),
            ("deliveries/s", 13),
            ("x sequential", 13),
            ("peak alloc MB", 14),
            ("max RSS MB", 11),
        )
        header = " ".join(f"{name:>{width}}" for name, width in columns) + "  targets"
        print(header)
        print("-" * len(header))
        for size in args.sizes:
            channel = MemoryChannel(size)
            broadcaster = Broadcaster(channel, fanout, retention_seconds=3600, shard_threshold=size)  # type: ignore[arg-type]
            broadcaster.publish(one_trade(), batch_id="warm")  # warm: pool threads and their connections
            started = time.perf_counter()
            broadcaster.publish(one_trade(), batch_id="timed")
            elapsed = time.perf_counter() - started
            rate = size / elapsed
            ratio = rate / sequential_rate
            tracemalloc.start()
            broadcaster.publish(one_trade(), batch_id="traced")
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            marks = []
            if size >= 10000:
                marks.append(f"<= {TARGET_SECONDS:.0f} s {'PASS' if elapsed <= TARGET_SECONDS else 'FAIL'}")
                marks.append(f">= {TARGET_RATE:,.0f}/s {'PASS' if rate >= TARGET_RATE else 'FAIL'}")
                marks.append(f">= {TARGET_RATIO:.0f}x {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}")
            row = f"{size:>7,} {elapsed:>10.2f} {rate:>13,.0f} {ratio:>13.1f} {peak:>14.1f} {rss:>11.1f}"
            print(f"{row}  {'; '.join(marks)}")
            results["sizes"][str(size)] = {
                "seconds": elapsed,
                "deliveries_per_second": rate,
                "ratio": ratio,
                "peak_alloc_mb": peak,
                "max_rss_mb": rss,
                "targets": marks,
            }
        print(
            f"\nsequential: {args.sample} sends extrapolated to N; peak alloc: tracemalloc during one (untimed) "
            "publish; max RSS: the whole process so far."
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()

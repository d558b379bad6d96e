"""Response-cache benchmark: 100 dashboards polling all five domains every 2 s for 60 simulated seconds, while an
event changes one domain every second; once with the cache (CACHE_TABLE) and once without, on the same data.

    .venv/bin/python bench/cache.py [--dashboards 100] [--seconds 60] [--json out.json]

Everything runs in this process against moto (started here, tables from template.yaml): the REST functions'
real handlers, given API Gateway events, and the real ingest functions for the events. The schedule is played
in time order as fast as it runs, on a simulated clock that the cache reads (its expiries and its settle
window); the data logic keeps the real clock, and the events carry real times.

DynamoDB read units are counted from what each read returned, by DynamoDB's rules: GetItem and BatchGetItem
per item, Query per request, each rounded up to 4 KB, a strongly consistent read 1 unit per 4 KB, an eventually
consistent one half, an item's size being its names and values in bytes (binary decoded). The cache's own
writes on the request path (fills and leases) are counted in write units by the same sizes: 1 per KB of the
larger of the item before and after the write (a PutItem that replaces an item, an UpdateItem), the item's
size for a DeleteItem, and a failed conditional write charged as the item it found; each item is read, uncounted,
before and after. Index writes are not counted (the cache table has no index). moto's ConsumedCapacity is not
used: it does not follow these rules.

A response is stale when it does not show its domain's latest event (the newest trade id, the portfolio's
as-of time, the metrics' latest time, the newest alert, the trading system's report time) that was ingested
before the request: the events say what the data is, independently of the cache's own versions.

Printed: the hit ratio, the read units with the cache against without it, the p50 time of a hit against a
miss (handler wall time), and the stale responses. Targets: hit ratio >= 90 %, read units <= 0.2x, a hit's p50
<= 0.5x a miss's, 0 stale.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers/common/python"), str(ROOT)]

from devstack.gateways.rest import response_body, response_headers, rest_event  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from devstack.runtime.handlers import LambdaContext, load_handler  # noqa: E402
from devstack.template.load import create_tables, load_template  # noqa: E402

DOMAINS = ("trades", "portfolio", "metrics", "alerts", "system")
# What a dashboard shows: the latest trades, the portfolio with its 30-day chart, the metric tiles, the alerts
# and the system panel.
PATHS = {
    "trades": ("functions/trades", "/api/v1/trades", [("limit", "100")]),
    "portfolio": ("functions/portfolio", "/api/v1/portfolio", [("include_history", "true")]),
    "metrics": ("functions/metrics", "/api/v1/metrics", []),
    "alerts": ("functions/alerts", "/api/v1/alerts", [("limit", "100")]),
    "system": ("functions/system", "/api/v1/system", []),
}
ROLES = ("admin",)  # the one role that may read all five domains
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TARGETS = {"hit_ratio": 0.90, "read_unit_ratio": 0.2, "hit_to_miss_p50": 0.5}
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 (moto only)


class SimClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CapacityUnits:
    """Read units and requests, counted from DynamoDB's answers, and the write units of the writes."""

    def __init__(self) -> None:
        self.units = 0.0
        self.reads = 0
        self.writes = 0
        self.write_units = 0

    def record_write(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        larger = max(_item_size(before or {}), _item_size(after or {}))
        self.write_units += max(1, math.ceil(larger / 1024))

    def record(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if operation in ("GetItem", "Query", "BatchGetItem"):
            self.reads += 1
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            self.writes += 1
        if operation == "GetItem":
            self.units += _units([answer.get("Item") or {}], params.get("ConsistentRead", False), per_item=True)
        elif operation == "Query":
            self.units += _units(answer.get("Items", []), params.get("ConsistentRead", False), per_item=False)
        elif operation == "BatchGetItem":
            for table, items in answer.get("Responses", {}).items():
                consistent = params["RequestItems"].get(table, {}).get("ConsistentRead", False)
                self.units += _units(items, consistent, per_item=True)


def _units(items: list[dict[str, Any]], consistent: bool, *, per_item: bool) -> float:
    sizes = [_item_size(item) for item in items] or [0]
    blocks = sum(max(1, math.ceil(size / 4096)) for size in sizes) if per_item else max(1, math.ceil(sum(sizes) / 4096))
    return blocks * (1.0 if consistent else 0.5)


def _item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


def _size(attribute: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it: strings in UTF-8 bytes, binary in bytes (our client
    sends it base64-encoded), a number about one byte per two digits, a map or list 3 bytes plus its contents."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return len(value.encode())
    if kind == "B":
        return len(base64.b64decode(value))
    if kind == "N":
        return len(value.strip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + _size(item) for name, item in value.items())
    if kind == "L":
        return 3 + sum(1 + _size(item) for item in value)
    return sum(len(str(item).encode()) for item in value)  # SS, NS, BS


@contextmanager
def counting(counter: CapacityUnits) -> Iterator[None]:
    from alphapulse.aws.dynamodb import DynamoDBClient

    original = DynamoDBClient.call

    def stored(client: Any, params: dict[str, Any]) -> dict[str, Any] | None:
        key = params.get("Key") or {name: params["Item"][name] for name in ("pk", "sk")}
        read = {"TableName": params["TableName"], "Key": key, "ConsistentRead": True}
        item: dict[str, Any] | None = original(client, "GetItem", read).get("Item")
        return item

    def call(self: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation not in WRITES:
            answer = original(self, operation, params)
            counter.record(operation, params, answer)
            return answer
        before = stored(self, params)
        after = before  # a failed conditional write is charged as the item it found
        try:
            answer = original(self, operation, params)
            after = stored(self, params)
        finally:
            counter.record(operation, params, {})
            counter.record_write(before, after)
        return answer

    DynamoDBClient.call = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBClient.call = original  # type: ignore[method-assign]


class Truth:
    """What each domain's latest event was, as the events themselves say."""

    def __init__(self) -> None:
        self.latest: dict[str, str] = {}

    def stale(self, domain: str, body: dict[str, Any]) -> bool:
        expected = self.latest.get(domain)
        if expected is None:
            return False
        shown: list[str]
        if domain == "trades":
            shown = [body["items"][0]["trade_id"]] if body["items"] else []
        elif domain == "portfolio":
            shown = [_instant(body["updated_at"])]
        elif domain == "metrics":
            shown = [max(_instant(item["timestamp"]) for item in body["items"])] if body["items"] else []
        elif domain == "alerts":
            shown = [item["message"] for item in body["items"]]
        else:
            shown = [_instant(body["trading_system"]["reported_at"])] if body["trading_system"] else []
        return expected not in shown


def _instant(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()


class Stack:
    """The functions of the run, and the events that change the data."""

    def __init__(self) -> None:
        self.handlers = {domain: load_handler(code_uri) for domain, (code_uri, _, _) in PATHS.items()}
        self.ingest = load_handler("functions/ingest")
        self.alert_ingest = load_handler("functions/alert_ingest")
        self.tokens = {role: _token(role) for role in ROLES}

    def get(self, domain: str, role: str) -> tuple[int, dict[str, str], bytes]:
        _, path, query = PATHS[domain]
        headers = [("Host", "bench"), ("Authorization", f"Bearer {self.tokens[role]}")]
        event = rest_event("GET", path, resource=path, headers=headers, query=query)
        answer = self.handlers[domain](event, LambdaContext(domain))
        return answer["statusCode"], {k.lower(): v for k, v in response_headers(answer)}, response_body(answer)

    def change(self, domain: str, number: int, truth: Truth) -> None:
        now = datetime.now(UTC)
        if domain == "alerts":
            message = f"bench alert {number}"
            record = {"message": message, "severity": "warning", "source": "bench", "status": "firing",
                      "timestamp": now.isoformat(), "dedup_key": f"bench-{number}"}  # fmt: skip
            self.alert_ingest({"Records": [{"Sns": {"Message": json.dumps(record)}}]}, LambdaContext("alert-ingest"))
            truth.latest[domain] = message
            return
        detail: dict[str, Any]
        if domain == "trades":
            trade_id = f"B-{number:05d}"
            fill = {"quantity": 10, "price": 100.0, "fees": 0.5, "status": "filled", "order_type": "market"}
            detail = {"trade_id": trade_id, "symbol": "AAPL", "side": "buy", "executed_at": now.isoformat(), **fill}
            kind, marker = "TradeExecuted", trade_id
        elif domain == "portfolio":
            detail = {"as_of": now.isoformat(), "cash": 10_000.0 + number,
                      "positions": [{"symbol": "AAPL", "quantity": 10, "entry_price": 100.0,
                                     "current_price": 100.0 + number}]}  # fmt: skip
            kind, marker = "PortfolioUpdated", now.isoformat()
        elif domain == "metrics":
            detail = {"timestamp": now.isoformat(), "metrics": {"sharpe_ratio": 1.0 + number / 100, "pnl": number}}
            kind, marker = "MetricsReported", now.isoformat()
        else:
            detail = json.loads((ROOT / "events/ingest-system-status-reported.json").read_text())["detail"]
            detail.update(timestamp=now.isoformat(), cpu={"usage_percent": 10.0 + number % 50, "cores": 8})
            kind, marker = "SystemStatusReported", now.isoformat()
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": kind, "source": "alphapulse.trading",
                 "account": "123456789012", "time": now.isoformat(), "region": "us-east-1", "resources": [],
                 "detail": detail}  # fmt: skip
        self.ingest(event, LambdaContext("ingest"))
        truth.latest[domain] = marker if domain == "trades" else _instant(marker)


def seed(now: datetime) -> None:
    """The demo data, grown to a month of a live desk: 500 trades, hourly portfolio snapshots for 30 days, and
    150 alerts (the demo has 200 trades, a snapshot every 6 h and 3 alerts)."""
    from alphapulse.alerts.logic.lifecycle import fire
    from alphapulse.alerts.models import AlertEvent
    from alphapulse.alerts.repositories.alerts import AlertRepository
    from alphapulse.portfolio.models import PortfolioSnapshot
    from alphapulse.portfolio.repositories import PortfolioRepository
    from devstack.demo import data as demo_data

    demo_data.seed("DataTable", "default", now=now)
    demo_data.add_trades("DataTable", "default", 300, now=now)
    portfolio = PortfolioRepository("DataTable", retention_seconds=90 * 86400)
    for hours_ago in range(30 * 24, 0, -1):
        price = 100.0 + hours_ago % 7
        positions = [{"symbol": symbol, "quantity": 10 + n, "entry_price": 100.0, "current_price": price}
                     for n, symbol in enumerate(("AAPL", "MSFT", "NVDA", "AMZN", "GOOG"))]  # fmt: skip
        snapshot = {"as_of": now - timedelta(hours=hours_ago, minutes=30), "cash": 250_000.0, "positions": positions}
        portfolio.put_snapshot("default", PortfolioSnapshot.model_validate(snapshot))
    alerts = AlertRepository("DataTable")
    for n in range(150):
        at = (now - timedelta(hours=4 * n + 1)).isoformat()
        fire(alerts, AlertEvent.model_validate({
            "tenant_id": "default", "message": f"seeded alert {n}", "severity": "warning", "source": "seed",
            "status": "firing", "timestamp": at, "dedup_key": f"seed-{n}"}))  # fmt: skip


def _token(role: str) -> str:
    from alphapulse.auth.logic.tokens import issue_token

    return issue_token(typ="access", username=f"bench-{role}", tenant_id="default", role=role, session_id="s")[0]


def schedule(dashboards: int, seconds: int) -> list[tuple[float, str, Any]]:
    """(simulated time, kind, what): each dashboard polls the five domains every 2 s, spread over the 2 s; one
    event a second, cycling through the domains."""
    steps: list[tuple[float, str, Any]] = []
    for second in range(seconds):
        steps.append((float(second), "event", (DOMAINS[second % len(DOMAINS)], second)))
    for dashboard in range(dashboards):
        offset = 2.0 * dashboard / dashboards
        for poll in range(seconds // 2):
            for domain in DOMAINS:
                steps.append((offset + 2.0 * poll + 0.001, "poll", (domain, ROLES[dashboard % len(ROLES)])))
    return sorted(steps, key=lambda step: step[0])


def run(stack: Stack, steps: list[tuple[float, str, Any]], *, cached: bool) -> dict[str, Any]:
    from alphapulse.cache import wiring as cache_wiring
    from alphapulse.cache.logic import ResponseCache
    from alphapulse.cache.repositories import CacheRepository

    clock = SimClock()
    start = clock.now
    cache = ResponseCache(CacheRepository("CacheTable", "DataTable"), clock=clock) if cached else None
    counter, truth = CapacityUnits(), Truth()
    hits: list[float] = []
    misses: list[float] = []
    stale = 0
    by_domain: dict[str, float] = {}
    with cache_wiring.dependencies.override(cache_wiring.CacheDependencies(cache=cache, clock=clock)):
        for when, kind, what in steps:
            clock.now = start + when
            if kind == "event":
                stack.change(what[0], what[1], truth)
                continue
            domain, role = what
            began, units_before = time.perf_counter(), counter.units
            with counting(counter), contextlib.redirect_stdout(io.StringIO()):  # the EMF lines of each request
                status, headers, body = stack.get(domain, role)
            took = time.perf_counter() - began
            by_domain[domain] = by_domain.get(domain, 0.0) + counter.units - units_before
            assert status == 200, (domain, role, status, body[:200])
            (hits if headers.get("x-cache") == "HIT" else misses).append(took)
            stale += truth.stale(domain, json.loads(body))
    requests = len(hits) + len(misses)
    return {
        "requests": requests,
        "hits": len(hits),
        "hit_ratio": len(hits) / requests,
        "read_units": counter.units,
        "read_requests": counter.reads,
        "write_requests": counter.writes,
        "write_units": counter.write_units,
        "hit_p50_ms": statistics.median(hits) * 1000 if hits else None,
        "miss_p50_ms": statistics.median(misses) * 1000 if misses else None,
        "stale": stale,
        "read_units_by_domain": by_domain,
    }


def environment(endpoint: str) -> None:
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "APP_ENV": "local", "JWT_SECRET": SECRET,
        "AUTH_TABLE": "AuthTable", "DATA_TABLE": "DataTable", "CONNECTIONS_TABLE": "ConnectionsTable",
        "ACCESS_TOKEN_TTL_SECONDS": "3600", "CACHE_TABLE": "CacheTable", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    })  # fmt: skip


def _per_request(result: dict[str, Any]) -> float:
    return float(result["read_units"]) / int(result["requests"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dashboards", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--uncached-dashboards",
        type=int,
        default=10,
        help="dashboards of the uncached run (its reads per request do not depend on their number)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import boto3

    from devstack.emulation import server as moto_server

    port = free_port()
    server = moto_server.start_here("127.0.0.1", port)
    endpoint = f"http://127.0.0.1:{port}"
    environment(endpoint)
    from alphapulse.ingest.wiring import IngestDependencies
    from alphapulse.ingest.wiring import dependencies as ingest_dependencies

    try:
        create_tables(boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1"), load_template())
        seed(datetime.now(UTC) - timedelta(minutes=1))
        stack = Stack()
        with ingest_dependencies.override(IngestDependencies(publish=lambda *push, push_id: None)):
            uncached = run(stack, schedule(min(args.uncached_dashboards, args.dashboards), args.seconds), cached=False)
            cached = run(stack, schedule(args.dashboards, args.seconds), cached=True)
    finally:
        server.stop()
    figures = {
        "hit_ratio": cached["hit_ratio"],
        # per request: without the cache, a request's reads do not depend on how many dashboards there are
        "read_unit_ratio": (cached["read_units"] / cached["requests"])
        / (uncached["read_units"] / uncached["requests"]),
        "hit_to_miss_p50": cached["hit_p50_ms"] / cached["miss_p50_ms"],
        "stale": cached["stale"] + uncached["stale"],
    }
    print(f"{args.dashboards} dashboards x 5 domains every 2 s for {args.seconds} simulated s, one event a second")
    print(f"  requests             {cached['requests']} cached, {uncached['requests']} uncached "
          f"({min(args.uncached_dashboards, args.dashboards)} dashboards: uncached, a request's reads do not "
          "depend on how many)")  # fmt: skip
    print(f"  hit ratio            {figures['hit_ratio']:.1%}  (target >= {TARGETS['hit_ratio']:.0%})")
    print(f"  read units/request   {cached['read_units'] / cached['requests']:.2f} cached vs "
          f"{uncached['read_units'] / uncached['requests']:.2f} uncached: "
          f"{figures['read_unit_ratio']:.3f}x  (target <= {TARGETS['read_unit_ratio']}x)")  # fmt: skip
    print(f"  reads/request        {cached['read_requests'] / cached['requests']:.2f} cached vs "
          f"{uncached['read_requests'] / uncached['requests']:.2f} uncached; cache writes (fills, leases) "
          f"{cached['write_requests']}, {cached['write_units']} write units, "
          f"{cached['write_units'] / (cached['requests'] - cached['hits']):.2f} per miss")  # fmt: skip
    print(f"  p50 hit vs miss      {cached['hit_p50_ms']:.2f} ms vs {cached['miss_p50_ms']:.2f} ms: "
          f"{figures['hit_to_miss_p50']:.2f}x  (target <= {TARGETS['hit_to_miss_p50']}x); "
          f"uncached p50 {uncached['miss_p50_ms']:.2f} ms")  # fmt: skip
    per_domain = uncached["requests"] / len(DOMAINS)
    by_domain = {domain: round(units / per_domain, 2) for domain, units in uncached["read_units_by_domain"].items()}
    print(f"  uncached units/req   by domain: {by_domain}")
    print(f"  stale responses      {figures['stale']}  (target 0)")
    met = (figures["hit_ratio"] >= TARGETS["hit_ratio"] and figures["read_unit_ratio"] <= TARGETS["read_unit_ratio"]
           and figures["hit_to_miss_p50"] <= TARGETS["hit_to_miss_p50"] and figures["stale"] == 0)  # fmt: skip
    print("  targets              " + ("met" if met else "NOT met"))
    if args.json:
        args.json.write_text(json.dumps({"cached": cached, "uncached": uncached, **figures}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""The system function through API Gateway events, on moto: status, health, the OpenAPI document,
permissions, tenants, and the status repository's conditional write."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.core.times import iso
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.system.models import TradingSystemStatus
from alphapulse.system.repositories import SystemRepository
from devstack.gateways.rest import response_body, response_headers, rest_event
from devstack.ports import free_port
from devstack.runtime.handlers import LambdaContext
from tests.conftest import EVENTS, ROOT, Reply, RestClient, load_event, reset_caches

SYSTEM, HEALTH, OPENAPI = "/api/v1/system", "/api/v1/health", "/api/v1/openapi.json"


def token(role: str = "admin", tenant: str = "default", *, now: int | None = None) -> str:
    return issue_token(typ="access", username=f"{tenant}-{role}", tenant_id=tenant, role=role, session_id="s", now=now)[
        0
    ]


class SystemClient(RestClient):
    """The system function owns three bare resources, each its own API Gateway resource."""

    def call(self, method: str, path: str, *, token: str | None = None) -> Reply:
        headers = [("Host", "api.test"), ("User-Agent", "pytest")]
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        resource = path if path in {SYSTEM, HEALTH, OPENAPI} else f"{SYSTEM}/{{proxy+}}"
        params = None if resource == path else {"proxy": path.removeprefix(SYSTEM + "/")}
        event = rest_event(method, path, resource=resource, path_parameters=params, headers=headers)
        response = self.handler(event, LambdaContext("system"))
        pairs = response_headers(response)
        return Reply(response["statusCode"], {k.lower(): v for k, v in pairs}, response_body(response), pairs)


@pytest.fixture
def api(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SystemClient:
    monkeypatch.setenv("CONNECTIONS_TABLE", aws["ConnectionsTable"])  # as the template gives the function
    return SystemClient("functions/system", "system")


@pytest.fixture
def repo(aws: dict[str, str]) -> SystemRepository:
    return SystemRepository(aws["DataTable"])


def report(at: datetime, cpu: float = 12.5) -> TradingSystemStatus:
    return TradingSystemStatus.model_validate(
        {
            "cpu": {"usage_percent": cpu, "cores": 8},
            "memory": {"total_mb": 16384, "used_mb": 8000.5, "percent": 48.8},
            "disk": {"total_gb": 500, "used_gb": 120.25, "percent": 24.05},
            "process": {"pid": 4242, "memory_mb": 512.3, "threads": 17, "uptime_seconds": 3600.5},
            "reported_at": at,
        }
    )


def put_raw(aws: dict[str, str], item: dict[str, Any]) -> None:
    """Write an item the way another domain's repository does (data-model keys), without importing it."""
    import boto3

    from alphapulse.aws.dynamodb import to_item

    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=aws["DataTable"], Item=to_item(item))


def put_trade(aws: dict[str, str], tenant: str, trade_id: str, executed_at: datetime) -> None:
    stamp = iso(executed_at)
    put_raw(
        aws,
        {
            "pk": f"T#{tenant}#TRADE#{trade_id}",
            "sk": "TRADE",
            "gsi1pk": f"T#{tenant}#TRADES",
            "gsi1sk": f"{stamp}#{trade_id}",
            "gsi2pk": f"T#{tenant}#TRADES#SYMBOL#AAPL",
            "gsi2sk": f"{stamp}#{trade_id}",
            "trade_id": trade_id,
            "symbol": "AAPL",
            "executed_at": stamp,
        },
    )


def put_portfolio(aws: dict[str, str], tenant: str, as_of: datetime) -> None:
    put_raw(aws, {"pk": f"T#{tenant}#PORTFOLIO", "sk": "LATEST", "as_of": iso(as_of), "cash": 1000, "positions": []})


def seconds_ago(value: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(value)).total_seconds()


# --- permissions -------------------------------------------------------------------------------------------


def credential(role: str | None) -> str | None:
    if role is None:
        return None
    if role == "expired":
        return token("admin", now=int(time.time()) - 3600)
    if role == "garbage":
        return "not-a-token"
    return token(role)


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("trader", 403), ("viewer", 403), (None, 401), ("expired", 401), ("garbage", 401)],
)
def test_system_permission_matrix(api: SystemClient, role: str | None, expected: int) -> None:
    reply = api.call("GET", SYSTEM, token=credential(role))
    assert reply.status == expected, reply.body
    if expected == 401:
        assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", [HEALTH, OPENAPI])
@pytest.mark.parametrize("role", ["admin", "trader", "viewer", None, "expired", "garbage"])
def test_public_routes_any_caller_200(api: SystemClient, path: str, role: str | None) -> None:
    assert api.call("GET", path, token=credential(role)).status == 200


# --- GET /system -------------------------------------------------------------------------------------------


def test_system_no_data_ok_unknown_feed(api: SystemClient) -> None:
    body = api.call("GET", SYSTEM, token=token()).json()
    assert body["status"] == "ok"
    assert body["trading_system"] is None
    assert body["components"]["database"]["status"] == "ok"
    assert 0 <= body["components"]["database"]["latency_ms"] < 1000
    assert body["components"]["event_feed"] == {"status": "unknown", "last_event_at": None, "lag_seconds": None}
    assert body["components"]["websocket"] == {"connections": 0}


def test_system_reports_latest_trading_system_status(api: SystemClient, repo: SystemRepository) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    repo.put_status("default", report(at))
    body = api.call("GET", SYSTEM, token=token()).json()
    assert body["trading_system"] == {
        "cpu": {"usage_percent": 12.5, "cores": 8},
        "memory": {"total_mb": 16384.0, "used_mb": 8000.5, "percent": 48.8},
        "disk": {"total_gb": 500.0, "used_gb": 120.25, "percent": 24.05},
        "process": {"pid": 4242, "memory_mb": 512.3, "threads": 17, "uptime_seconds": 3600.5},
        "reported_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert body["components"]["event_feed"]["status"] == "ok"
    assert body["components"]["event_feed"]["last_event_at"] == body["trading_system"]["reported_at"]
    assert body["status"] == "ok"


@pytest.mark.parametrize("newest", ["trade", "portfolio", "system", "metric"])
def test_system_event_feed_newest_of_all_sources(aws: dict[str, str], api: SystemClient, newest: str) -> None:
    now = datetime.now(UTC)
    ages = {name: timedelta(minutes=30) for name in ("trade", "portfolio", "system", "metric")}
    ages[newest] = timedelta(seconds=45)
    put_trade(aws, "default", "t-old", now - timedelta(hours=5))
    put_trade(aws, "default", "t-new", now - ages["trade"])
    put_portfolio(aws, "default", now - ages["portfolio"])
    SystemRepository(aws["DataTable"]).put_status("default", report(now - ages["system"]))
    metrics = MetricRepository(aws["DataTable"])
    metrics.put_points("default", now - timedelta(hours=2), {"a": 1.0})
    metrics.put_points("default", now - ages["metric"], {"b": 1.0})

    feed = api.call("GET", SYSTEM, token=token()).json()["components"]["event_feed"]

    assert feed["status"] == "ok"
    assert datetime.fromisoformat(feed["last_event_at"]) == now - ages[newest]
    assert 44 <= feed["lag_seconds"] <= seconds_ago(feed["last_event_at"]) + 1


def test_system_stale_feed_degraded(aws: dict[str, str], api: SystemClient) -> None:
    put_trade(aws, "default", "t1", datetime.now(UTC) - timedelta(minutes=10))
    body = api.call("GET", SYSTEM, token=token()).json()
    assert body["components"]["event_feed"]["status"] == "degraded"
    assert body["components"]["event_feed"]["lag_seconds"] >= 600
    assert body["status"] == "degraded"


def test_system_database_unreachable_down_not_500(
    aws: dict[str, str], api: SystemClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    reset_caches()
    reply = api.call("GET", SYSTEM, token=token())
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["status"] == "down"
    assert body["components"]["database"] == {"status": "down", "latency_ms": None}
    assert body["components"]["event_feed"]["status"] == "unknown"


def test_system_missing_table_down(api: SystemClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_TABLE", "NoSuchTable")
    reset_caches()
    body = api.call("GET", SYSTEM, token=token()).json()
    assert body["status"] == "down"


def test_system_other_tenant_sees_nothing(aws: dict[str, str], api: SystemClient, repo: SystemRepository) -> None:
    now = datetime.now(UTC)
    repo.put_status("default", report(now))
    put_trade(aws, "default", "t1", now)
    put_portfolio(aws, "default", now)
    MetricRepository(aws["DataTable"]).put_points("default", now, {"a": 1.0})
    body = api.call("GET", SYSTEM, token=token("admin", "acme")).json()
    assert body["trading_system"] is None
    assert body["components"]["event_feed"] == {"status": "unknown", "last_event_at": None, "lag_seconds": None}
    assert api.call("GET", SYSTEM, token=token("admin", "default")).json()["trading_system"] is not None


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [("POST", SYSTEM, 405), ("DELETE", SYSTEM, 405), ("GET", f"{SYSTEM}/x", 404), ("POST", HEALTH, 405)],
)
def test_system_other_methods_and_paths_4xx(api: SystemClient, method: str, path: str, expected: int) -> None:
    assert api.call(method, path, token=token()).status == expected


# --- health and the OpenAPI document -----------------------------------------------------------------------


def test_health_exactly_status_ok(api: SystemClient) -> None:
    reply = api.call("GET", HEALTH)
    assert reply.json() == {"status": "ok"}
    assert reply.headers["content-type"] == "application/json"


def test_health_no_storage_needed(api: SystemClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # No table configured and no reachable endpoint: health does no I/O, so it still answers.
    monkeypatch.delenv("DATA_TABLE")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    reset_caches()
    assert api.call("GET", HEALTH).json() == {"status": "ok"}


def test_openapi_served_document_is_the_committed_one(api: SystemClient) -> None:
    reply = api.call("GET", OPENAPI)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert reply.json() == committed
    assert set(reply.json()["paths"]) >= {SYSTEM, HEALTH, OPENAPI}


# --- repository --------------------------------------------------------------------------------------------


def test_put_status_only_newer_replaces(repo: SystemRepository) -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert repo.put_status("default", report(at, cpu=10)) is True
    assert repo.put_status("default", report(at, cpu=20)) is False  # redelivery or same instant
    assert repo.put_status("default", report(at - timedelta(seconds=1), cpu=30)) is False  # late
    state = repo.latest_state("default")
    assert state.trading_system is not None and state.trading_system.cpu.usage_percent == 10
    assert repo.put_status("default", report(at + timedelta(microseconds=1), cpu=40)) is True
    state = repo.latest_state("default")
    assert state.trading_system is not None and state.trading_system.cpu.usage_percent == 40


def test_put_status_tiny_numbers_stored_as_zero(repo: SystemRepository) -> None:
    status = report(datetime(2026, 3, 1, tzinfo=UTC), cpu=1e-200)
    assert repo.put_status("default", status) is True
    state = repo.latest_state("default")
    assert state.trading_system is not None and state.trading_system.cpu.usage_percent == 0.0


def test_latest_trade_at_newest_by_index(aws: dict[str, str], repo: SystemRepository) -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for offset in (5, 1, 9, 3):
        put_trade(aws, "default", f"t{offset}", base + timedelta(minutes=offset))
    put_trade(aws, "acme", "a1", base + timedelta(hours=1))
    assert repo.latest_trade_at("default") == base + timedelta(minutes=9)
    assert repo.latest_trade_at("other") is None


# --- canned events -----------------------------------------------------------------------------------------

SYSTEM_EVENTS = sorted(path.stem for path in EVENTS.glob("system-*.json"))


def test_every_system_route_has_an_event() -> None:
    paths = {json.loads(Path(EVENTS / f"{name}.json").read_text())["path"] for name in SYSTEM_EVENTS}
    assert paths >= {SYSTEM, HEALTH, OPENAPI}


@pytest.mark.parametrize("name", SYSTEM_EVENTS)
def test_system_event_answered_2xx(api: SystemClient, repo: SystemRepository, name: str) -> None:
    repo.put_status("default", report(datetime.now(UTC)))
    event = load_event(name, access_token=token("admin"))
    assert "{{" not in json.dumps(event)
    assert event["requestContext"]["resourcePath"] == event["resource"] == event["path"]
    response = api.handler(event, LambdaContext("system"))
    assert 200 <= response["statusCode"] < 300, response


def test_event_feed_reads_what_the_trade_and_portfolio_repositories_write(
    aws: dict[str, str], api: SystemClient
) -> None:
    # The system repository reads other domains' items by the data-model keys; this holds it to
    # what their own repositories actually write.
    from alphapulse.portfolio.models import PortfolioSnapshot
    from alphapulse.portfolio.repositories import PortfolioRepository
    from alphapulse.trades.models import Trade
    from alphapulse.trades.repositories import TradeRepository

    now = datetime.now(UTC)
    trade_at, as_of = now - timedelta(seconds=50), now - timedelta(seconds=20)
    trade = Trade(
        trade_id="t-1",
        symbol="AAPL",
        side="buy",
        quantity=1,
        price=100,
        status="filled",
        order_type="market",
        executed_at=trade_at,
    )
    TradeRepository(aws["DataTable"]).put_trade("default", trade)
    repo = SystemRepository(aws["DataTable"])
    assert repo.latest_trade_at("default") == trade_at

    portfolio = PortfolioRepository(aws["DataTable"], retention_seconds=86400)
    portfolio.put_snapshot("default", PortfolioSnapshot(as_of=as_of, cash=1000, positions=[]))
    assert repo.latest_state("default").portfolio_as_of == as_of
    feed = api.call("GET", SYSTEM, token=token()).json()["components"]["event_feed"]
    assert datetime.fromisoformat(feed["last_event_at"]) == as_of


# --- components.websocket ------------------------------------------------------------------------------------


def test_system_counts_the_tenants_live_websocket_connections(api: SystemClient, aws: dict[str, str]) -> None:
    from alphapulse.realtime.models import Connection
    from alphapulse.realtime.repositories.connections import ConnectionRepository

    connections = ConnectionRepository(aws["ConnectionsTable"])
    now = int(time.time())
    for connection_id, tenant, lifetime in (("a1", "default", 900), ("a2", "default", 60), ("old", "default", -1),
                                            ("b1", "acme", 900)):  # fmt: skip
        connections.put(Connection(connection_id, tenant, "u", frozenset({"view_system"}), now + lifetime, now,
                                   now + lifetime))  # fmt: skip

    def count(tenant: str) -> int:
        reply = api.call("GET", SYSTEM, token=token("admin", tenant))
        assert reply.status == 200, reply.body
        value: int = reply.json()["components"]["websocket"]["connections"]
        return value

    assert count("default") == 2  # the expired one is not counted, even before TTL sweeps it
    assert count("acme") == 1
    connections.remove("a1")
    assert count("default") == 1

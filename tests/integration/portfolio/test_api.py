"""The portfolio function through its Lambda handler, against moto: valuation, history, writes, tenants, auth."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse.core.times import iso, parse_iso
from alphapulse.portfolio.models import Portfolio, PortfolioHistory, PortfolioSnapshot
from alphapulse.portfolio.repositories import PortfolioRepository
from devstack.runtime.handlers import LambdaContext
from tests.conftest import EVENTS, RestClient, load_event
from tests.integration.trades.test_api import access_token, token_with_permissions

BASE = "/api/v1/portfolio"
HISTORY = f"{BASE}/history"
RETENTION = 90 * 86400
EMPTY_METRICS = {
    "sharpe_ratio": None,
    "sortino_ratio": None,
    "max_drawdown": None,
    "volatility": None,
    "return_since_inception": None,
}


def snapshot(
    as_of: datetime, cash: Any = "25000.50", positions: list[dict[str, Any]] | None = None, **extra: Any
) -> PortfolioSnapshot:
    if positions is None:
        positions = [
            {"symbol": "AAPL", "quantity": 100, "entry_price": "150.25", "current_price": "187.33"},
            {"symbol": "MSFT", "quantity": "12.5", "entry_price": "410.10", "current_price": "402.07"},
        ]
    return PortfolioSnapshot.model_validate({"as_of": as_of, "cash": cash, "positions": positions, **extra})


def exact(reply: Any) -> Any:
    """The body with every number as an exact Decimal of its JSON text."""
    assert reply.status == 200, reply.body
    return json.loads(reply.body, parse_float=Decimal, parse_int=Decimal)


@pytest.fixture
def api(aws: dict[str, str]) -> RestClient:
    return RestClient("functions/portfolio", "portfolio")


@pytest.fixture
def repo(aws: dict[str, str]) -> PortfolioRepository:
    return PortfolioRepository(aws["DataTable"], retention_seconds=RETENTION)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def seeded(repo: PortfolioRepository, now: datetime) -> PortfolioSnapshot:
    """Hourly snapshots of `default` over the last 2 days; the latest carries metrics."""
    for hours in range(48, 0, -1):
        repo.put_snapshot("default", snapshot(now - timedelta(hours=hours), cash=1000 + hours))
    latest = snapshot(
        now - timedelta(minutes=5),
        metrics={
            "sharpe_ratio": 1.42,
            "sortino_ratio": 1.9,
            "max_drawdown": 0.083,
            "volatility": 0.17,
            "return_since_inception": 0.256,
        },
    )
    assert repo.put_snapshot("default", latest) == (True, True)
    return latest


# Current portfolio


def test_get_portfolio_before_any_snapshot_zeros_and_nulls(api: RestClient) -> None:
    reply = api.request("GET", BASE, token=access_token())
    assert reply.status == 200
    assert reply.json() == {
        "total_value": 0,
        "cash": 0,
        "positions_value": 0,
        "updated_at": None,
        "positions": [],
        "metrics": EMPTY_METRICS,
    }


def test_get_portfolio_values_latest_snapshot(api: RestClient, seeded: PortfolioSnapshot) -> None:
    body = exact(api.request("GET", BASE, token=access_token()))
    assert parse_iso(body["updated_at"]) == seeded.as_of
    aapl, msft = body["positions"]
    # AAPL: 100 x 187.33 = 18733.00; pnl (187.33 - 150.25) x 100 = 3708.00; 3708 / 15025 = 24.6789%
    assert aapl == {
        "symbol": "AAPL",
        "quantity": Decimal("100.0"),
        "entry_price": Decimal("150.25"),
        "current_price": Decimal("187.33"),
        "value": Decimal("18733.0"),
        "pnl": Decimal("3708.0"),
        "pnl_percentage": Decimal("24.6789"),
        "weight": Decimal("0.384193"),
    }
    # MSFT: 12.5 x 402.07 = 5025.875 -> 5025.88; pnl -8.03 x 12.5 = -100.375 -> -100.38 (half even)
    assert (msft["value"], msft["pnl"], msft["pnl_percentage"]) == (
        Decimal("5025.88"),
        Decimal("-100.38"),
        Decimal("-1.9581"),
    )
    assert body["cash"] == Decimal("25000.5")
    assert body["positions_value"] == Decimal("23758.88")
    assert body["total_value"] == Decimal("48759.38")
    assert body["metrics"] == {
        "sharpe_ratio": Decimal("1.42"),
        "sortino_ratio": Decimal("1.9"),
        "max_drawdown": Decimal("0.083"),
        "volatility": Decimal("0.17"),
        "return_since_inception": Decimal("0.256"),
    }
    assert "history" not in body


def test_get_portfolio_totals_consistent_to_the_cent_for_random_snapshots(
    api: RestClient, repo: PortfolioRepository, now: datetime
) -> None:
    rng = random.Random(20260310)
    for round_ in range(25):
        positions = [
            {
                "symbol": f"S{i}",
                "quantity": str(Decimal(rng.randint(-50_000, 500_000)) / 1000),
                "entry_price": str(Decimal(rng.randint(0, 10_000_000)) / 10_000),
                "current_price": str(Decimal(rng.randint(0, 10_000_000)) / 10_000),
            }
            for i in range(rng.randint(0, 12))
        ]
        cash = str(Decimal(rng.randint(-(10**9), 10**9)) / 1000)
        repo.put_snapshot("default", snapshot(now - timedelta(seconds=100 - round_), cash=cash, positions=positions))
        body = exact(api.request("GET", BASE, token=access_token()))
        assert body["total_value"] == body["cash"] + body["positions_value"]
        assert body["positions_value"] == sum((p["value"] for p in body["positions"]), Decimal(0))
        assert all(Decimal(str(p["value"])).as_tuple().exponent >= -2 for p in body["positions"])


def test_get_portfolio_snapshot_without_metrics_has_null_metrics(
    api: RestClient, repo: PortfolioRepository, now: datetime
) -> None:
    repo.put_snapshot("default", snapshot(now, cash="10", positions=[]))
    body = api.request("GET", BASE, token=access_token()).json()
    assert body["metrics"] == EMPTY_METRICS
    assert (body["total_value"], body["cash"], body["positions_value"], body["positions"]) == (10, 10, 0, [])


@pytest.mark.parametrize("flag", ["false", "0", "no"])
def test_get_portfolio_history_absent_unless_asked(api: RestClient, seeded: PortfolioSnapshot, flag: str) -> None:
    assert "history" not in api.request("GET", BASE, token=access_token(), query=[("include_history", flag)]).json()


def test_get_portfolio_include_history_last_30_days_oldest_first(
    api: RestClient, repo: PortfolioRepository, seeded: PortfolioSnapshot, now: datetime
) -> None:
    repo.put_snapshot("default", snapshot(now - timedelta(days=31)))  # outside the window
    body = api.request("GET", BASE, token=access_token(), query=[("include_history", "true")]).json()
    times = [parse_iso(point["timestamp"]) for point in body["history"]["points"]]
    assert len(times) == 49
    assert times == sorted(times)
    assert times[0] == now - timedelta(hours=48)
    assert times[-1] == seeded.as_of
    assert body["history"]["points"][-1]["total_value"] == body["total_value"]


def test_get_portfolio_history_points_caps_history(api: RestClient, seeded: PortfolioSnapshot) -> None:
    query = [("include_history", "true"), ("history_points", "10")]
    points = api.request("GET", BASE, token=access_token(), query=query).json()["history"]["points"]
    assert 4 <= len(points) <= 10


def test_get_portfolio_include_history_without_data_is_empty_history(api: RestClient) -> None:
    body = api.request("GET", BASE, token=access_token(), query=[("include_history", "true")]).json()
    assert body["history"] == {"points": []}
    assert body["updated_at"] is None


# History


def test_history_default_window_oldest_first_with_totals(api: RestClient, seeded: PortfolioSnapshot) -> None:
    body = exact(api.request("GET", HISTORY, token=access_token()))
    points = body["points"]
    assert len(points) == 49
    assert [parse_iso(p["timestamp"]) for p in points] == sorted(parse_iso(p["timestamp"]) for p in points)
    assert set(points[0]) == {"timestamp", "total_value", "cash", "positions_value"}
    assert points[0]["cash"] == Decimal(1048)
    assert all(p["total_value"] == p["cash"] + p["positions_value"] for p in points)


def test_history_downsampled_keeps_first_last_min_max(
    api: RestClient, repo: PortfolioRepository, now: datetime
) -> None:
    rng = random.Random(7)
    cash = [rng.randint(0, 10_000) for _ in range(300)]
    cash[123], cash[211] = 50_000, -50_000
    for i, amount in enumerate(cash):
        repo.put_snapshot("default", snapshot(now - timedelta(minutes=300 - i), cash=amount, positions=[]))
    points = api.request("GET", HISTORY, token=access_token(), query=[("max_points", "20")]).json()["points"]
    values = [p["total_value"] for p in points]
    assert len(points) <= 20
    assert values[0] == cash[0]
    assert values[-1] == cash[-1]
    assert 50_000 in values
    assert -50_000 in values
    times = [parse_iso(p["timestamp"]) for p in points]
    assert times == sorted(set(times))


def test_history_explicit_window_inclusive(api: RestClient, seeded: PortfolioSnapshot, now: datetime) -> None:
    query = [("start_time", iso(now - timedelta(hours=10))), ("end_time", iso(now - timedelta(hours=8)))]
    points = api.request("GET", HISTORY, token=access_token(), query=query).json()["points"]
    assert [parse_iso(p["timestamp"]) for p in points] == [now - timedelta(hours=h) for h in (10, 9, 8)]


def test_history_leaves_out_points_past_their_ttl(api: RestClient, aws: dict[str, str], now: datetime) -> None:
    short = PortfolioRepository(aws["DataTable"], retention_seconds=60)
    short.put_snapshot("default", snapshot(now - timedelta(minutes=5)))  # expired 4 minutes ago
    short.put_snapshot("default", snapshot(now - timedelta(seconds=10)))
    points = api.request("GET", HISTORY, token=access_token()).json()["points"]
    assert [parse_iso(p["timestamp"]) for p in points] == [now - timedelta(seconds=10)]


# Writes (the methods ingestion will call)


def raw_items(aws: dict[str, str], tenant: str) -> dict[str, dict[str, Any]]:
    import boto3

    from alphapulse.aws.dynamodb import from_item

    client = boto3.client("dynamodb", region_name="us-east-1")
    response = client.query(
        TableName=aws["DataTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#PORTFOLIO"}},
    )
    return {item["sk"]["S"]: from_item(item) for item in response["Items"]}


def test_put_snapshot_history_ttl_is_as_of_plus_retention_in_seconds(
    repo: PortfolioRepository, aws: dict[str, str], now: datetime
) -> None:
    repo.put_snapshot("default", snapshot(now))
    items = raw_items(aws, "default")
    assert set(items) == {"LATEST", f"SNAP#{iso(now)}"}
    expires_at = items[f"SNAP#{iso(now)}"]["expires_at"]
    assert expires_at == int(now.timestamp()) + RETENTION
    assert expires_at < time.time() + RETENTION + 60  # seconds, not milliseconds
    assert "expires_at" not in items["LATEST"]


def test_put_snapshot_duplicate_is_noop(repo: PortfolioRepository, aws: dict[str, str], now: datetime) -> None:
    first = snapshot(now)
    assert repo.put_snapshot("default", first) == (True, True)
    before = raw_items(aws, "default")
    assert repo.put_snapshot("default", first) == (False, False)
    assert repo.put_snapshot("default", snapshot(now, cash="1")) == (False, False)  # same as_of: the first stays
    assert raw_items(aws, "default") == before


def test_put_snapshot_older_arrival_does_not_replace_latest(
    api: RestClient, repo: PortfolioRepository, now: datetime
) -> None:
    first = now - timedelta(seconds=10)
    assert repo.put_snapshot("default", snapshot(first, cash="200")) == (True, True)
    assert repo.put_snapshot("default", snapshot(first - timedelta(minutes=1), cash="100")) == (True, False)
    body = api.request("GET", BASE, token=access_token()).json()
    assert body["cash"] == 200
    assert parse_iso(body["updated_at"]) == first
    assert repo.put_snapshot("default", snapshot(first + timedelta(seconds=1), cash="300")) == (True, True)
    assert api.request("GET", BASE, token=access_token()).json()["cash"] == 300
    assert len(api.request("GET", HISTORY, token=access_token()).json()["points"]) == 3


# Tenant isolation


def test_portfolio_of_other_tenant_is_invisible(api: RestClient, seeded: PortfolioSnapshot) -> None:
    acme = access_token("acme", "admin")
    assert api.request("GET", BASE, token=acme).json()["updated_at"] is None
    body = api.request("GET", BASE, token=acme, query=[("include_history", "true")]).json()
    assert body["history"] == {"points": []}
    assert api.request("GET", HISTORY, token=acme).json() == {"points": []}


def test_portfolio_tenants_are_valued_separately(api: RestClient, repo: PortfolioRepository, now: datetime) -> None:
    repo.put_snapshot("default", snapshot(now, cash="1", positions=[]))
    repo.put_snapshot("acme", snapshot(now, cash="2", positions=[]))
    assert api.request("GET", BASE, token=access_token("default")).json()["cash"] == 1
    assert api.request("GET", BASE, token=access_token("acme", "admin")).json()["cash"] == 2


# Authentication and permissions

ROUTES = [BASE, HISTORY]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ["admin", "trader", "viewer"])
def test_portfolio_routes_every_role_200(api: RestClient, seeded: PortfolioSnapshot, path: str, role: str) -> None:
    assert api.request("GET", path, token=access_token("default", role)).status == 200


@pytest.mark.parametrize("path", ROUTES)
def test_portfolio_routes_without_token_401(api: RestClient, path: str) -> None:
    reply = api.request("GET", path)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ROUTES)
def test_portfolio_routes_expired_token_401(api: RestClient, path: str) -> None:
    assert api.request("GET", path, token=access_token(now=int(time.time()) - 3600)).status == 401


@pytest.mark.parametrize("path", ROUTES)
def test_portfolio_routes_garbage_token_401(api: RestClient, path: str) -> None:
    assert api.request("GET", path, token="not.a.token").status == 401


@pytest.mark.parametrize("path", ROUTES)
def test_portfolio_routes_without_view_portfolio_403(api: RestClient, path: str) -> None:
    reply = api.request("GET", path, token=token_with_permissions(["view_metrics", "view_trades"]))
    assert reply.status == 403
    assert reply.json() == {"detail": "Missing permission: view_portfolio"}


# Bad input: a clear 4xx, never a 500


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (BASE, [("include_history", "maybe")]),
        (BASE, [("history_points", "3")]),
        (BASE, [("history_points", "1001")]),
        (BASE, [("history_points", "many")]),
        (BASE, [("history_points", "-1")]),
        (HISTORY, [("max_points", "0")]),
        (HISTORY, [("max_points", "3")]),
        (HISTORY, [("max_points", "5001")]),
        (HISTORY, [("max_points", "9" * 40)]),
        (HISTORY, [("start_time", "last week")]),
        (HISTORY, [("start_time", "2026-03-02T00:00:00Z"), ("end_time", "2026-03-01T00:00:00Z")]),
        (HISTORY, [("end_time", "9999-12-31T23:59:59-05:00")]),
        (HISTORY, [("start_time", "😀")]),
        (HISTORY, [("start_time", "1000-01-01T00:00:00Z")]),  # a window over 92 days
        (HISTORY, [("start_time", "2026-01-01T00:00:00Z"), ("end_time", "2026-04-03T00:00:01Z")]),
    ],
)
def test_portfolio_bad_query_422(
    api: RestClient, seeded: PortfolioSnapshot, path: str, query: list[tuple[str, str]]
) -> None:
    reply = api.request("GET", path, token=access_token(), query=query)
    assert reply.status == 422, reply.body
    assert isinstance(reply.json()["detail"], list)


@pytest.mark.parametrize(
    "query",
    [
        [("start_time", "0001-01-01T00:00:00Z"), ("end_time", "0001-01-02T00:00:00Z")],
        [("start_time", "9999-12-31T23:59:59Z")],
        [("end_time", "0001-01-01T00:00:00Z")],
        [("max_points", "4"), ("start_time", "1000-01-01T00:00:00Z"), ("end_time", "1000-04-02T00:00:00Z")],
    ],
)
def test_history_edge_times_200(api: RestClient, seeded: PortfolioSnapshot, query: list[tuple[str, str]]) -> None:
    reply = api.request("GET", HISTORY, token=access_token(), query=query)
    assert reply.status == 200, reply.body
    assert len(reply.json()["points"]) <= 49


@pytest.mark.parametrize("path", [f"{BASE}/nothing", f"{HISTORY}/more", f"{BASE}/%C3%A9"])
def test_portfolio_unknown_path_404(api: RestClient, path: str) -> None:
    assert api.request("GET", path, token=access_token()).status == 404


# Canned events


def test_every_portfolio_route_has_an_event() -> None:
    assert {"portfolio-get", "portfolio-history"} <= {path.stem for path in EVENTS.glob("portfolio-*.json")}


@pytest.mark.parametrize("name", ["portfolio-get", "portfolio-history"])
def test_portfolio_event_is_answered(api: RestClient, seeded: PortfolioSnapshot, name: str) -> None:
    event = load_event(name, access_token=access_token("default", "viewer"))
    response = api.handler(event, LambdaContext("portfolio"))
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    points = body["history"]["points"] if name == "portfolio-get" else body["points"]
    assert len(points) == 49


# Fuzzing: any query gets a documented status and, on 200, a body of the documented shape

_fuzz_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["true", "false", "1", "4", "1000", "5000", "5001", "2026-03-01T00:00:00+05:30", "9999-12-31"]),
)
_fuzz_params = st.lists(
    st.tuples(
        st.sampled_from(["include_history", "history_points", "max_points", "start_time", "end_time", "other"]),
        _fuzz_text,
    ),
    max_size=5,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=_fuzz_params)
def test_get_portfolio_fuzzed_query_never_5xx(
    api: RestClient, seeded: PortfolioSnapshot, params: list[tuple[str, str]]
) -> None:
    reply = api.request("GET", BASE, token=access_token(), query=params)
    assert reply.status in (200, 422), reply.body
    if reply.status == 200:
        body = Portfolio.model_validate(reply.json())
        assert (body.history is not None) == ("history" in reply.json())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=_fuzz_params)
def test_history_fuzzed_query_never_5xx(
    api: RestClient, seeded: PortfolioSnapshot, params: list[tuple[str, str]]
) -> None:
    reply = api.request("GET", HISTORY, token=access_token(), query=params)
    assert reply.status in (200, 422), reply.body
    if reply.status == 200:
        PortfolioHistory.model_validate(reply.json())

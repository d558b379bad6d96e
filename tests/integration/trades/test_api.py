"""The trades function through its Lambda handler, against moto: filters, pages, cursors, tenants, auth."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse.core.pagination import Page
from alphapulse.core.times import iso, parse_iso
from alphapulse.trades.models import Trade
from alphapulse.trades.repositories import TradeRepository
from devstack.runtime.handlers import LambdaContext
from tests.conftest import RestClient, load_event

BASE = "/api/v1/trades"
SYMBOLS = ("AAPL", "MSFT", "BRK.B")


def access_token(tenant: str = "default", role: str = "viewer", *, now: int | None = None) -> str:
    from alphapulse.auth.logic.tokens import issue_token

    return issue_token(typ="access", username=f"{role}-{tenant}", tenant_id=tenant, role=role, session_id="s", now=now)[
        0
    ]


def token_with_permissions(permissions: list[str], tenant: str = "default") -> str:
    """A validly signed access token that carries exactly `permissions`."""
    from alphapulse.auth.logic.tokens import ALGORITHM
    from alphapulse.core.config import get_settings, signing_key

    settings = get_settings()
    now = int(time.time())
    claims = {
        "sub": "limited",
        "tenant_id": tenant,
        "role": "viewer",
        "permissions": permissions,
        "iat": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "sid": "s",
    }
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM)


def make_trade(trade_id: str, executed_at: datetime, *, symbol: str = "AAPL", side: str = "buy", **extra: Any) -> Trade:
    return Trade.model_validate(
        {
            "trade_id": trade_id,
            "symbol": symbol,
            "side": side,
            "quantity": 10,
            "price": 187.25,
            "fees": 0.35,
            "status": "filled",
            "order_type": "limit",
            "executed_at": executed_at,
            "strategy": "momentum",
            **extra,
        }
    )


def newest_first(trades: list[Trade]) -> list[str]:
    return [t.trade_id for t in sorted(trades, key=lambda t: (iso(t.executed_at), t.trade_id), reverse=True)]


@pytest.fixture
def api(aws: dict[str, str]) -> RestClient:
    return RestClient("functions/trades", "trades")


@pytest.fixture
def repo(aws: dict[str, str]) -> TradeRepository:
    return TradeRepository(aws["DataTable"])


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def seeded(repo: TradeRepository, now: datetime) -> dict[str, list[Trade]]:
    """A few trades in `default` (one older than the default window) and one in `acme`."""
    default = [
        make_trade("d-1", now - timedelta(hours=1), symbol="AAPL", side="buy"),
        make_trade("d-2", now - timedelta(hours=2), symbol="MSFT", side="sell", strategy=None),
        make_trade("d-3", now - timedelta(hours=3), symbol="AAPL", side="sell"),
        make_trade("d-4", now - timedelta(days=2), symbol="BRK.B", side="buy", order_type="market"),
        make_trade("d-old", now - timedelta(days=8), symbol="AAPL", side="buy"),
    ]
    acme = [make_trade("a-1", now - timedelta(hours=1), symbol="AAPL", side="buy")]
    for trade in default:
        assert repo.put_trade("default", trade)
    for trade in acme:
        assert repo.put_trade("acme", trade)
    return {"default": default, "acme": acme}


def ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.body
    return [item["trade_id"] for item in reply.json()["items"]]


# Reading


def test_list_trades_default_window_last_seven_days_newest_first(
    api: RestClient, seeded: dict[str, list[Trade]]
) -> None:
    reply = api.request("GET", BASE, token=access_token())
    assert ids(reply) == ["d-1", "d-2", "d-3", "d-4"]
    assert reply.json()["next_cursor"] is None


def test_list_trades_item_has_every_contract_field(
    api: RestClient, seeded: dict[str, list[Trade]], now: datetime
) -> None:
    items = api.request("GET", BASE, token=access_token()).json()["items"]
    assert parse_iso(items[0].pop("executed_at")) == now - timedelta(hours=1)
    assert items[0] == {
        "trade_id": "d-1",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": 10.0,
        "price": 187.25,
        "fees": 0.35,
        "status": "filled",
        "order_type": "limit",
        "strategy": "momentum",
    }
    assert items[1]["strategy"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("symbol", "AAPL")], ["d-1", "d-3"]),
        ([("side", "sell")], ["d-2", "d-3"]),
        ([("symbol", "AAPL"), ("side", "sell")], ["d-3"]),
        ([("symbol", "BRK.B")], ["d-4"]),
        ([("symbol", "aapl")], []),  # symbols match exactly
        ([("symbol", "TSLA")], []),
    ],
)
def test_list_trades_filter_returns_matching_trades(
    api: RestClient, seeded: dict[str, list[Trade]], query: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(api.request("GET", BASE, token=access_token(), query=query)) == expected


def test_list_trades_explicit_window_with_offsets_is_inclusive(
    api: RestClient, seeded: dict[str, list[Trade]], now: datetime
) -> None:
    # Bounds given in +02:00 name the same instants as d-3 and d-1: both ends are included.
    plus_two = timezone(timedelta(hours=2))
    start = (now - timedelta(hours=3)).astimezone(plus_two)
    end = (now - timedelta(hours=1)).astimezone(plus_two)
    reply = api.request(
        "GET", BASE, token=access_token(), query=[("start_time", start.isoformat()), ("end_time", end.isoformat())]
    )
    assert ids(reply) == ["d-1", "d-2", "d-3"]


def test_list_trades_old_window_reaches_beyond_seven_days(
    api: RestClient, seeded: dict[str, list[Trade]], now: datetime
) -> None:
    reply = api.request(
        "GET", BASE, token=access_token(), query=[("start_time", iso(now - timedelta(days=30))), ("symbol", "AAPL")]
    )
    assert ids(reply) == ["d-1", "d-3", "d-old"]


def test_list_trades_naive_time_is_utc(api: RestClient, seeded: dict[str, list[Trade]], now: datetime) -> None:
    naive_end = (now - timedelta(hours=2)).replace(tzinfo=None).isoformat()
    assert ids(api.request("GET", BASE, token=access_token(), query=[("end_time", naive_end)])) == ["d-2", "d-3", "d-4"]


def test_get_trade_returns_the_trade(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    reply = api.request("GET", f"{BASE}/d-2", token=access_token())
    assert reply.status == 200
    assert reply.json()["trade_id"] == "d-2"
    assert reply.json()["side"] == "sell"


def test_get_trade_unknown_id_404(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    reply = api.request("GET", f"{BASE}/nope", token=access_token())
    assert reply.status == 404
    assert reply.json() == {"detail": "Trade not found"}


# Tenant isolation


def test_get_trade_of_other_tenant_404(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    assert api.request("GET", f"{BASE}/d-1", token=access_token("acme", "admin")).status == 404
    assert api.request("GET", f"{BASE}/a-1", token=access_token("default", "admin")).status == 404


def test_list_trades_shows_only_own_tenant(api: RestClient, seeded: dict[str, list[Trade]], now: datetime) -> None:
    everything = [("start_time", iso(now - timedelta(days=365)))]
    assert ids(api.request("GET", BASE, token=access_token("acme", "admin"), query=everything)) == ["a-1"]
    assert ids(api.request("GET", BASE, token=access_token("acme", "admin"), query=[("symbol", "MSFT")])) == []
    assert "a-1" not in ids(api.request("GET", BASE, token=access_token("default", "admin"), query=everything))


def test_list_trades_tenant_without_trades_gets_empty_list(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    reply = api.request("GET", BASE, token=access_token("globex", "admin"))
    assert reply.json() == {"items": [], "next_cursor": None}


# Pagination


@pytest.fixture
def thousand(repo: TradeRepository, now: datetime) -> list[Trade]:
    """1,000 trades of `default` within the last 5 days, in pairs that share a timestamp."""
    trades = [
        make_trade(
            f"p-{i:04d}",
            now - timedelta(minutes=7 * (i // 2) + 1),
            symbol=SYMBOLS[i % 3],
            side="buy" if i % 5 < 3 else "sell",
        )
        for i in range(1000)
    ]
    repo.put_trades("default", trades)
    repo.put_trades("acme", [make_trade("acme-x", now - timedelta(minutes=1))])
    return trades


def read_all(api: RestClient, token: str, query: list[tuple[str, str]], limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = [*query, ("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        reply = api.request("GET", BASE, token=token, query=params)
        assert reply.status == 200, reply.body
        body = reply.json()
        assert len(body["items"]) <= limit
        seen.extend(item["trade_id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 100


def test_pagination_1000_trades_in_pages_of_37_each_once_newest_first(api: RestClient, thousand: list[Trade]) -> None:
    seen, pages = read_all(api, access_token(), [], 37)
    assert len(seen) == 1000
    assert len(set(seen)) == 1000
    assert seen == newest_first(thousand)
    assert pages in (28, 29)  # 27 full pages and 1 of 1; an empty last page is allowed


@pytest.mark.parametrize(
    "query",
    [[("side", "sell")], [("symbol", "MSFT")], [("symbol", "BRK.B"), ("side", "buy")]],
)
def test_pagination_filtered_pages_each_matching_trade_once_in_order(
    api: RestClient, thousand: list[Trade], query: list[tuple[str, str]]
) -> None:
    wanted = dict(query)
    expected = newest_first(
        [t for t in thousand if wanted.get("symbol", t.symbol) == t.symbol and wanted.get("side", t.side) == t.side]
    )
    seen, _ = read_all(api, access_token(), query, 37)
    assert seen == expected


def first_cursor(api: RestClient, token: str, query: list[tuple[str, str]] | None = None) -> str:
    reply = api.request("GET", BASE, token=token, query=[*(query or []), ("limit", "37")])
    cursor = reply.json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "", "a.b", "...", "eyJrZXkiOnt9fQ.AAAAAAAAAAAAAAAAAAAAAA", "é.é", "💥", "%00", "a" * 2048],
)
def test_list_trades_garbage_cursor_400(api: RestClient, thousand: list[Trade], cursor: str) -> None:
    reply = api.request("GET", BASE, token=access_token(), query=[("cursor", cursor)])
    assert reply.status == 400, reply.body
    assert reply.json() == {"detail": "Invalid cursor"}


def test_list_trades_tampered_cursor_400(api: RestClient, thousand: list[Trade]) -> None:
    cursor = first_cursor(api, access_token())
    payload, signature = cursor.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for forged in (f"{flipped}.{signature}", f"{payload}.{signature[::-1]}", cursor + "x"):
        assert api.request("GET", BASE, token=access_token(), query=[("cursor", forged)]).status == 400


def test_list_trades_cursor_of_other_tenant_400(api: RestClient, thousand: list[Trade]) -> None:
    cursor = first_cursor(api, access_token("default", "admin"))
    reply = api.request("GET", BASE, token=access_token("acme", "admin"), query=[("cursor", cursor)])
    assert reply.status == 400
    assert "p-" not in reply.body.decode()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ([("symbol", "AAPL")], [("symbol", "MSFT")]),
        ([("symbol", "AAPL")], []),
        ([], [("side", "buy")]),
        ([("side", "buy")], [("side", "sell")]),
        ([], [("end_time", "2999-01-01T00:00:00Z")]),
    ],
)
def test_list_trades_cursor_of_other_query_400(
    api: RestClient, thousand: list[Trade], first: list[tuple[str, str]], second: list[tuple[str, str]]
) -> None:
    cursor = first_cursor(api, access_token(), first)
    reply = api.request("GET", BASE, token=access_token(), query=[*second, ("cursor", cursor)])
    assert reply.status == 400


def test_list_trades_cursor_reused_with_other_limit_continues(api: RestClient, thousand: list[Trade]) -> None:
    cursor = first_cursor(api, access_token())
    reply = api.request("GET", BASE, token=access_token(), query=[("cursor", cursor), ("limit", "5")])
    assert ids(reply) == newest_first(thousand)[37:42]


# Writes (the methods ingestion will call)


def test_put_trade_duplicate_is_noop(repo: TradeRepository, aws: dict[str, str], now: datetime) -> None:
    original = make_trade("dup-1", now - timedelta(minutes=5))
    assert repo.put_trade("default", original) is True
    assert repo.put_trade("default", original) is False
    assert repo.put_trade("default", original, version=iso(now)) is False  # a newer report saying the same
    assert repo.get("default", "dup-1") == original


def test_put_trade_newer_and_different_replaces(repo: TradeRepository, now: datetime) -> None:
    partial = make_trade("fill-1", now - timedelta(minutes=5), status="partially_filled", quantity=40)
    filled = partial.model_copy(update={"status": "filled", "quantity": 100})
    assert repo.put_trade("default", partial, version=iso(now - timedelta(minutes=5))) is True
    assert repo.put_trade("default", filled, version=iso(now)) is True
    assert repo.get("default", "fill-1") == filled
    # An older report, however different, never replaces a newer one.
    assert repo.put_trade("default", partial, version=iso(now - timedelta(minutes=1))) is False
    assert repo.get("default", "fill-1") == filled


def test_put_trade_same_id_in_two_tenants_are_two_trades(repo: TradeRepository, now: datetime) -> None:
    assert repo.put_trade("default", make_trade("shared", now, price=1.0)) is True
    assert repo.put_trade("acme", make_trade("shared", now, price=2.0)) is True
    stored = [repo.get(tenant, "shared") for tenant in ("default", "acme")]
    assert [t.price for t in stored if t] == [1.0, 2.0]


def test_put_trades_batches_and_ignores_repeated_ids(repo: TradeRepository, now: datetime) -> None:
    trades = [make_trade(f"b-{i}", now - timedelta(seconds=i)) for i in range(60)]
    repo.put_trades("default", trades + trades[:10])
    page, _ = repo.list(
        "default", start=iso(now - timedelta(days=1)), end=iso(now), symbol=None, side=None, limit=500, start_key=None
    )
    assert sorted(t.trade_id for t in page) == sorted(t.trade_id for t in trades)


# Authentication and permissions


ROUTES = [BASE, f"{BASE}/d-1"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ["admin", "trader", "viewer"])
def test_trades_routes_every_role_200(api: RestClient, seeded: dict[str, list[Trade]], path: str, role: str) -> None:
    assert api.request("GET", path, token=access_token("default", role)).status == 200


@pytest.mark.parametrize("path", ROUTES)
def test_trades_routes_without_token_401(api: RestClient, seeded: dict[str, list[Trade]], path: str) -> None:
    reply = api.request("GET", path)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ROUTES)
def test_trades_routes_expired_token_401(api: RestClient, seeded: dict[str, list[Trade]], path: str) -> None:
    expired = access_token(now=int(time.time()) - 3600)
    assert api.request("GET", path, token=expired).status == 401


@pytest.mark.parametrize("path", ROUTES)
def test_trades_routes_refresh_token_401(api: RestClient, seeded: dict[str, list[Trade]], path: str) -> None:
    from alphapulse.auth.logic.tokens import issue_token

    refresh = issue_token(typ="refresh", username="viewer", tenant_id="default", role="viewer", session_id="s")[0]
    assert api.request("GET", path, token=refresh).status == 401


@pytest.mark.parametrize("path", ROUTES)
def test_trades_routes_without_view_trades_403(api: RestClient, seeded: dict[str, list[Trade]], path: str) -> None:
    token = token_with_permissions(["view_metrics", "view_portfolio"])
    reply = api.request("GET", path, token=token)
    assert reply.status == 403
    assert reply.json() == {"detail": "Missing permission: view_trades"}


def test_trades_bad_query_without_token_401_first(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    assert api.request("GET", BASE, query=[("limit", "0")]).status == 401


# Bad input: a clear 4xx, never a 500


@pytest.mark.parametrize(
    "query",
    [
        [("limit", "0")],
        [("limit", "501")],
        [("limit", "ten")],
        [("limit", "1e3")],
        [("side", "hold")],
        [("side", "BUY")],
        [("symbol", "")],
        [("symbol", "X" * 33)],
        [("symbol", "AAPL#T#acme")],
        [("symbol", "ÅAPL")],
        [("symbol", "AA PL")],
        [("start_time", "yesterday")],
        [("end_time", "2026-13-01T00:00:00Z")],
        [("start_time", "2026-03-02T00:00:00Z"), ("end_time", "2026-03-01T00:00:00Z")],
        [("start_time", "9999-12-31T23:59:59-05:00")],
        [("end_time", "0001-01-01T00:00:00+01:00")],
        [("cursor", "c" * 2049)],
    ],
)
def test_list_trades_bad_query_422(
    api: RestClient, seeded: dict[str, list[Trade]], query: list[tuple[str, str]]
) -> None:
    reply = api.request("GET", BASE, token=access_token(), query=query)
    assert reply.status == 422, reply.body
    assert isinstance(reply.json()["detail"], list)


def test_list_trades_start_after_end_names_the_problem(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    reply = api.request(
        "GET",
        BASE,
        token=access_token(),
        query=[("start_time", "2026-03-02T00:00:00Z"), ("end_time", "2026-03-01T00:00:00+00:00")],
    )
    assert reply.json()["detail"][0]["msg"] == "start_time must not be after end_time"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("start_time", "0001-01-01T00:00:00Z"), ("end_time", "0002-01-01T00:00:00Z")], []),
        ([("start_time", "9999-12-31T00:00:00Z")], []),
        ([("start_time", "0001-01-01T00:00:00Z"), ("symbol", "MSFT")], ["d-2"]),
        ([("end_time", "9999-12-31T23:59:59.999999Z"), ("symbol", "MSFT")], []),  # the 7 days before the end
        (
            [("start_time", "1000-01-01T00:00:00Z"), ("end_time", "9999-12-31T23:59:59.999999Z")],
            ["d-1", "d-2", "d-3", "d-4", "d-old"],
        ),
        ([("start_time", "1700000000")], ["d-1", "d-2", "d-3", "d-4", "d-old"]),  # epoch seconds parse too
        ([("limit", "1"), ("limit", "500")], ["d-1", "d-2", "d-3", "d-4"]),  # the last value wins
    ],
)
def test_list_trades_edge_times_200(
    api: RestClient, seeded: dict[str, list[Trade]], query: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(api.request("GET", BASE, token=access_token(), query=query)) == expected


@pytest.mark.parametrize(
    ("trade_id", "expected"),
    [
        ("x" * 128, 404),
        ("x" * 129, 422),
        ("d-1%23T%23acme", 422),
        ("%C3%A9t%C3%A9", 422),
        ("%F0%9F%92%A5", 422),
        ("a%20b", 422),
        ("..", 404),
        ("T:1.2_3-4", 404),
    ],
)
def test_get_trade_bad_or_unknown_id_never_500(
    api: RestClient, seeded: dict[str, list[Trade]], trade_id: str, expected: int
) -> None:
    from urllib.parse import unquote

    reply = api.request("GET", f"{BASE}/{unquote(trade_id)}", token=access_token())
    assert reply.status == expected, reply.body


def test_trades_unknown_subpath_404(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    assert api.request("GET", f"{BASE}/d-1/more", token=access_token()).status == 404


def test_trades_write_method_405(api: RestClient, seeded: dict[str, list[Trade]]) -> None:
    assert api.request("POST", BASE, token=access_token(), json_body={}).status == 405


# Canned events


def test_every_trades_route_has_an_event() -> None:
    from tests.conftest import EVENTS

    assert {"trades-list", "trades-show"} <= {path.stem for path in EVENTS.glob("trades-*.json")}


@pytest.mark.parametrize("name", ["trades-list", "trades-show"])
def test_trades_event_is_answered(api: RestClient, repo: TradeRepository, now: datetime, name: str) -> None:
    repo.put_trade("default", make_trade("T-default-00123", now - timedelta(minutes=3), symbol="AAPL", side="buy"))
    event = load_event(name, access_token=access_token("default", "trader"))
    response = api.handler(event, LambdaContext("trades"))
    assert response["statusCode"] == 200, response["body"]
    assert "T-default-00123" in response["body"]


# Fuzzing: any query or id gets a documented status and, on 200, a body of the documented shape

_fuzz_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["AAPL", "BRK.B", "buy", "sell", "0", "500", "-1", "2026-03-01T00:00:00+05:30", "9999-12-31"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["symbol", "side", "start_time", "end_time", "limit", "cursor", "other"]), _fuzz_text
        ),
        max_size=5,
    )
)
def test_list_trades_fuzzed_query_never_5xx(
    api: RestClient, seeded: dict[str, list[Trade]], params: list[tuple[str, str]]
) -> None:
    reply = api.request("GET", BASE, token=access_token(), query=params)
    assert reply.status in (200, 400, 422), reply.body
    if reply.status == 200:
        Page[Trade].model_validate(reply.json())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trade_id=st.text(min_size=1, max_size=200).filter(lambda s: "/" not in s and s not in (".", "..")))
def test_get_trade_fuzzed_id_never_5xx(api: RestClient, seeded: dict[str, list[Trade]], trade_id: str) -> None:
    reply = api.request("GET", f"{BASE}/{trade_id}", token=access_token())
    assert reply.status in (200, 404, 422), reply.body
    if reply.status == 200:
        assert Trade.model_validate(reply.json()).trade_id == trade_id

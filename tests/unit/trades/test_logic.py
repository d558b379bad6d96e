"""Trades logic against an in-memory store: windows, cursors and not-found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.core.errors import BadRequestError, NotFoundError
from alphapulse.core.pagination import encode_cursor, fingerprint
from alphapulse.core.times import EARLIEST, TimeRange, iso
from alphapulse.trades import logic as trades
from alphapulse.trades.models import Trade

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def trade(trade_id: str, executed_at: datetime, *, symbol: str = "AAPL", side: str = "buy") -> Trade:
    return Trade.model_validate(
        {
            "trade_id": trade_id,
            "symbol": symbol,
            "side": side,
            "quantity": 1,
            "price": 10,
            "status": "filled",
            "order_type": "market",
            "executed_at": executed_at,
        }
    )


@dataclass
class FakeTradeStore:
    """Keeps trades per tenant; pages by a start key holding the last returned sort key."""

    trades: dict[str, list[Trade]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get(self, tenant_id: str, trade_id: str) -> Trade | None:
        return next((t for t in self.trades.get(tenant_id, []) if t.trade_id == trade_id), None)

    def list(
        self,
        tenant_id: str,
        *,
        start: str,
        end: str,
        symbol: str | None,
        side: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[Trade], dict[str, Any] | None]:
        self.calls.append({"start": start, "end": end, "start_key": start_key})
        ordered = sorted(
            (t for t in self.trades.get(tenant_id, []) if start <= iso(t.executed_at) <= end + "~"),
            key=lambda t: (iso(t.executed_at), t.trade_id),
            reverse=True,
        )
        matching = [t for t in ordered if symbol in (None, t.symbol) and side in (None, t.side)]
        if start_key is not None:
            after = start_key["sk"]["S"]
            matching = [t for t in matching if f"{iso(t.executed_at)}#{t.trade_id}" < after]
        page = matching[:limit]
        last = page[-1] if len(matching) > limit else None
        return page, ({"sk": {"S": f"{iso(last.executed_at)}#{last.trade_id}"}} if last else None)


@pytest.fixture
def store(app_env: None) -> FakeTradeStore:
    # app_env: cursors are signed with a key derived from the JWT secret.
    return FakeTradeStore(
        {
            "default": [trade(f"t{i}", NOW - timedelta(hours=i)) for i in range(10)],
            "acme": [trade("acme-1", NOW - timedelta(hours=1))],
        }
    )


def test_get_trade_unknown_id_not_found(store: FakeTradeStore) -> None:
    with pytest.raises(NotFoundError):
        trades.get_trade(store, "default", "nope")


def test_get_trade_of_other_tenant_not_found(store: FakeTradeStore) -> None:
    with pytest.raises(NotFoundError):
        trades.get_trade(store, "default", "acme-1")


def test_list_trades_without_times_reads_last_seven_days(store: FakeTradeStore) -> None:
    trades.list_trades(store, "default", now=NOW)
    assert store.calls[0]["start"] == iso(NOW - timedelta(days=7))
    assert store.calls[0]["end"] == iso(NOW)


def test_list_trades_pages_follow_each_other_without_gaps(store: FakeTradeStore) -> None:
    first = trades.list_trades(store, "default", limit=4, now=NOW)
    assert [t.trade_id for t in first.items] == ["t0", "t1", "t2", "t3"]
    assert first.next_cursor is not None
    second = trades.list_trades(store, "default", limit=4, cursor=first.next_cursor, now=NOW)
    assert [t.trade_id for t in second.items] == ["t4", "t5", "t6", "t7"]


def test_list_trades_cursor_keeps_first_page_window(store: FakeTradeStore) -> None:
    first = trades.list_trades(store, "default", limit=2, now=NOW)
    assert first.next_cursor is not None
    # An hour later "now" has moved, but the second page reads the first page's window.
    trades.list_trades(store, "default", limit=2, cursor=first.next_cursor, now=NOW + timedelta(hours=1))
    assert store.calls[1]["start"] == store.calls[0]["start"]
    assert store.calls[1]["end"] == store.calls[0]["end"]


@pytest.mark.parametrize(
    ("tenant", "changes"),
    [
        ("acme", {}),
        ("default", {"symbol": "MSFT"}),
        ("default", {"side": "sell"}),
        ("default", {"requested": TimeRange(start=NOW - timedelta(days=1))}),
    ],
)
def test_list_trades_cursor_of_other_tenant_or_query_bad_request(
    store: FakeTradeStore, tenant: str, changes: dict[str, Any]
) -> None:
    first = trades.list_trades(store, "default", limit=2, now=NOW)
    assert first.next_cursor is not None
    with pytest.raises(BadRequestError):
        trades.list_trades(store, tenant, limit=2, cursor=first.next_cursor, now=NOW, **changes)


@pytest.mark.parametrize(
    "cursor",
    ["", "garbage", "a.b", "a.b.c", "x" * 3000, "é.é", "eyJrZXkiOnt9fQ.AAAAAAAAAAAAAAAAAAAAAA"],
)
def test_list_trades_garbage_cursor_bad_request(store: FakeTradeStore, cursor: str) -> None:
    with pytest.raises(BadRequestError):
        trades.list_trades(store, "default", cursor=cursor, now=NOW)


@pytest.mark.parametrize(
    "state",
    [
        {"key": {"sk": {"S": "x"}}},  # no window
        {"key": {"sk": {"N": "1"}}, "start": iso(NOW), "end": iso(NOW)},  # not a string key
        {"key": {}, "start": iso(NOW), "end": iso(NOW)},
        {"key": {"sk": {"S": "x"}}, "start": "yesterday", "end": iso(NOW)},
        {"key": {"sk": {"S": "x"}}, "start": iso(NOW), "end": iso(NOW - timedelta(days=1))},
        {"key": ["sk"], "start": iso(NOW), "end": iso(NOW)},
    ],
)
def test_list_trades_signed_cursor_of_wrong_shape_bad_request(store: FakeTradeStore, state: dict[str, Any]) -> None:
    # Signed by us (say, by an older release) but not a state this release understands.
    query = fingerprint(list="trades", symbol=None, side=None, **TimeRange().fingerprint())
    cursor = encode_cursor(state, tenant_id="default", query=query)
    with pytest.raises(BadRequestError):
        trades.list_trades(store, "default", cursor=cursor, now=NOW)


def test_time_range_future_start_without_end_is_empty_window() -> None:
    start, end = TimeRange(start=NOW + timedelta(days=1)).resolve(default_span=timedelta(days=7), now=NOW)
    assert start == end == NOW + timedelta(days=1)


def test_time_range_end_only_reads_span_before_it() -> None:
    end_time = NOW - timedelta(days=30)
    start, end = TimeRange(end=end_time).resolve(default_span=timedelta(days=7), now=NOW)
    assert (start, end) == (end_time - timedelta(days=7), end_time)


def test_time_range_before_year_1000_is_clamped() -> None:
    ancient = datetime(5, 1, 1, tzinfo=UTC)
    start, end = TimeRange(start=ancient, end=datetime(6, 1, 1, tzinfo=UTC)).resolve(
        default_span=timedelta(days=7), now=NOW
    )
    assert start == end == EARLIEST
    start, end = TimeRange(end=datetime(1000, 1, 2, tzinfo=UTC)).resolve(default_span=timedelta(days=7), now=NOW)
    assert start == EARLIEST
    assert len(iso(start)) == len(iso(NOW))


def test_trade_executed_before_year_1000_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        trade("ancient", datetime(999, 12, 31, tzinfo=UTC))

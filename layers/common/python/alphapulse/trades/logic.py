"""Trades: a tenant's executed trades, filtered and paged newest first, and one trade by id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from alphapulse.core.errors import BadRequestError, NotFoundError
from alphapulse.core.pagination import Page, decode_cursor, encode_cursor, fingerprint
from alphapulse.core.times import TimeRange, iso, parse_iso, utcnow
from alphapulse.trades.models import Side, Trade

DEFAULT_WINDOW = timedelta(days=7)


class TradeStore(Protocol):
    """Where trades are read from (`trades.repositories.TradeRepository`)."""

    def get(self, tenant_id: str, trade_id: str) -> Trade | None: ...

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
    ) -> tuple[list[Trade], dict[str, Any] | None]: ...


def get_trade(store: TradeStore, tenant_id: str, trade_id: str) -> Trade:
    """The tenant's trade; NotFoundError when it has none with this id (another tenant's included)."""
    trade = store.get(tenant_id, trade_id)
    if trade is None:
        raise NotFoundError("Trade not found")
    return trade


def list_trades(
    store: TradeStore,
    tenant_id: str,
    *,
    symbol: str | None = None,
    side: Side | None = None,
    requested: TimeRange | None = None,
    limit: int = 100,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page[Trade]:
    """One page of the tenant's trades in the window, newest first.

    The window defaults to the last 7 days. A cursor carries the window of its first page, so
    "now" does not move under a paging client; it is bound to the tenant and to the filters,
    and anything else is a 400.
    """
    requested = requested or TimeRange()
    query = fingerprint(list="trades", symbol=symbol, side=side, **requested.fingerprint())
    if cursor is not None:
        start, end, start_key = _read_cursor(cursor, tenant_id=tenant_id, query=query)
    else:
        first, last = requested.resolve(default_span=DEFAULT_WINDOW, now=now or utcnow())
        start, end, start_key = iso(first), iso(last), None
    items, last_key = store.list(
        tenant_id, start=start, end=end, symbol=symbol, side=side, limit=limit, start_key=start_key
    )
    next_cursor = None
    if last_key is not None:
        next_cursor = encode_cursor({"key": last_key, "start": start, "end": end}, tenant_id=tenant_id, query=query)
    return Page[Trade](items=items, next_cursor=next_cursor)


def _read_cursor(cursor: str, *, tenant_id: str, query: str) -> tuple[str, str, dict[str, Any]]:
    state = decode_cursor(cursor, tenant_id=tenant_id, query=query)
    start, end, key = state.get("start"), state.get("end"), state.get("key")
    # The signature proves we wrote it; the shape is checked anyway, so that a cursor of an
    # older release is a 400 rather than a storage error.
    if not (isinstance(start, str) and isinstance(end, str) and _is_string_key(key) and start <= end):
        raise BadRequestError("Invalid cursor")
    try:
        parse_iso(start)
        parse_iso(end)
    except ValueError as exc:
        raise BadRequestError("Invalid cursor") from exc
    assert isinstance(key, dict)
    return start, end, key


def _is_string_key(key: object) -> bool:
    return (
        isinstance(key, dict)
        and 0 < len(key) <= 4
        and all(
            isinstance(name, str) and isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)
            for name, value in key.items()
        )
    )

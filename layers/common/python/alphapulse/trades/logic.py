"""Trades: a tenant's executed trades, filtered and paged newest first, and one trade by id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from alphapulse.core.errors import NotFoundError
from alphapulse.core.pagination import Page, fingerprint, window_page
from alphapulse.core.times import TimeRange, utcnow
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
    items, next_cursor = window_page(
        lambda start, end, start_key: store.list(
            tenant_id, start=start, end=end, symbol=symbol, side=side, limit=limit, start_key=start_key
        ),
        tenant_id=tenant_id,
        query=fingerprint(list="trades", symbol=symbol, side=side, **requested.fingerprint()),
        requested=requested,
        default_span=DEFAULT_WINDOW,
        cursor=cursor,
        now=now or utcnow(),
    )
    return Page[Trade](items=items, next_cursor=next_cursor)

"""Trades function: the tenant's executed trades (DESIGN section 4, Portfolio, trades and system)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from alphapulse import trades
from alphapulse.api import create_app, data_repository, lambda_handler
from alphapulse.auth import require
from alphapulse.models.auth import Principal
from alphapulse.models.common import Cursor, Limit, Page, QueryTimeRange
from alphapulse.models.trades import Trade, TradeId, TradeSide, TradeSymbol
from alphapulse.repositories.trades import TradeRepository

router = APIRouter(prefix="/trades", tags=["trades"])

Viewer = Annotated[Principal, require("view_trades")]
_AUTH_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing, invalid or expired access token"},
    403: {"description": "The token lacks the view_trades permission"},
}


Store = Annotated[TradeRepository, data_repository(TradeRepository)]


@router.get(
    "",
    response_model=Page[Trade],
    operation_id="list_trades",
    summary="List trades",
    description=(
        "The tenant's trades executed between `start_time` and `end_time` (both inclusive; by default "
        "the last 7 days ending now), newest first, optionally only one `symbol` and/or `side`. Pass "
        "`next_cursor` back as `cursor`, with the same filters, for the next page; it keeps the first "
        "page's window. `start_time` after `end_time` is a 422."
    ),
    responses={
        **_AUTH_RESPONSES,
        400: {"description": "Malformed cursor, or a cursor of another tenant or of other filters"},
    },
)
async def list_trades(
    principal: Viewer,
    store: Store,
    window: QueryTimeRange,
    symbol: TradeSymbol = None,
    side: TradeSide = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[Trade]:
    return trades.list_trades(
        store, principal.tenant_id, symbol=symbol, side=side, requested=window, limit=limit, cursor=cursor
    )


@router.get(
    "/{trade_id}",
    response_model=Trade,
    operation_id="get_trade",
    summary="Get a trade",
    description="One trade of the tenant. 404 when it has none with this id; 422 for an id no trade can have.",
    responses={
        **_AUTH_RESPONSES,
        404: {"description": "The tenant has no trade with this id"},
    },
)
async def get_trade(principal: Viewer, store: Store, trade_id: TradeId) -> Trade:
    return trades.get_trade(store, principal.tenant_id, trade_id)


app = create_app("AlphaPulse trades", routers=[router])
handler = lambda_handler(app)

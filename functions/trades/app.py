"""Trades function: the tenant's executed trades (DESIGN section 4, Portfolio, trades and system)."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from alphapulse.auth.models import Principal
from alphapulse.core.keys import SYMBOL_MAX_LENGTH, SYMBOL_PATTERN
from alphapulse.core.pagination import Page
from alphapulse.trades import logic as trades
from alphapulse.trades.models import (
    TRADE_ID_MAX_LENGTH,
    TRADE_ID_PATTERN,
    Side,
    Trade,
)
from alphapulse.trades.wiring import TradesDependencies, dependencies
from alphapulse.web.app import api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.cache import CACHED_RESPONSES, Cached
from alphapulse.web.params import Cursor, Limit, QueryTimeRange
from alphapulse.web.security import require

router = api_router("/trades", tags=["trades"])

Viewer = Annotated[Principal, require("view_trades")]
_AUTH_RESPONSES = auth_responses("view_trades")
Deps = Annotated[TradesDependencies, Depends(dependencies.dependency)]
TradeSymbol = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=SYMBOL_MAX_LENGTH,
        pattern=SYMBOL_PATTERN,
        description="Only trades of this symbol (exact match)",
    ),
]
TradeSide = Annotated[Side | None, Query(description="Only buys or only sells")]
TradeId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=TRADE_ID_MAX_LENGTH,
        pattern=TRADE_ID_PATTERN,
        description="The trade's id (letters, digits, '.', '_', ':' and '-')",
    ),
]


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
        **CACHED_RESPONSES,
        400: {"description": "Malformed cursor, or a cursor of another tenant or of other filters"},
    },
)
async def list_trades(
    principal: Viewer,
    deps: Deps,
    cache: Cached,
    window: QueryTimeRange,
    symbol: TradeSymbol = None,
    side: TradeSide = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    return await cache.respond(
        principal,
        ("trades",),
        lambda: trades.list_trades(
            deps.trades, principal.tenant_id, symbol=symbol, side=side, requested=window, limit=limit, cursor=cursor
        ),
    )


@router.get(
    "/{trade_id}",
    response_model=Trade,
    operation_id="get_trade",
    summary="Get a trade",
    description="One trade of the tenant. 404 when it has none with this id; 422 for an id no trade can have.",
    responses={
        **_AUTH_RESPONSES,
        **CACHED_RESPONSES,
        404: {"description": "The tenant has no trade with this id"},
    },
)
async def get_trade(principal: Viewer, deps: Deps, cache: Cached, trade_id: TradeId) -> Response:
    return await cache.respond(
        principal, ("trades",), lambda: trades.get_trade(deps.trades, principal.tenant_id, trade_id)
    )


app = create_app("AlphaPulse trades", routers=[router])
handler = lambda_handler(app)
startup.done()

"""Portfolio function: the latest valuation and the history of the totals (DESIGN section 4)."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from typing import Annotated

from fastapi import Depends, Query, Response

from alphapulse.auth.models import Principal
from alphapulse.portfolio import logic as portfolio
from alphapulse.portfolio.models import Portfolio, PortfolioHistory
from alphapulse.portfolio.wiring import PortfolioDependencies, dependencies
from alphapulse.web.app import api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.cache import CACHED_RESPONSES, Cached
from alphapulse.web.params import QueryTimeRange
from alphapulse.web.security import require

router = api_router("/portfolio", tags=["portfolio"])

Viewer = Annotated[Principal, require("view_portfolio")]
_AUTH_RESPONSES = auth_responses("view_portfolio")
# A trade moves the portfolio too (DESIGN section 7): its entries miss after either changes.
PORTFOLIO_DOMAINS = ("portfolio", "trades")
# Four points are the least that hold the first, the last, the minimum and the maximum.
MIN_POINTS = 4


Deps = Annotated[PortfolioDependencies, Depends(dependencies.dependency)]


@router.get(
    "",
    response_model=Portfolio,
    response_model_exclude_unset=True,
    operation_id="get_portfolio",
    summary="Current portfolio",
    description=(
        "The latest snapshot with values, pnl, pnl percentages and weights computed by the backend "
        "(money rounded to cents; `total_value == cash + positions_value` exactly). Before the first "
        "snapshot: `updated_at` null, totals 0, no positions, metrics null. With `include_history=true` "
        "the response also has `history`: the totals of the last 30 days ending now, oldest first, "
        "downsampled to at most `history_points` points keeping the first, the last, the minimum and "
        "the maximum. Without it, `history` is absent."
    ),
    responses={**_AUTH_RESPONSES, **CACHED_RESPONSES},
)
async def get_portfolio(
    principal: Viewer,
    deps: Deps,
    cache: Cached,
    include_history: Annotated[bool, Query(description="Add the last 30 days of history")] = False,
    history_points: Annotated[
        int, Query(ge=MIN_POINTS, le=1000, description="At most this many history points (4-1000)")
    ] = 100,
) -> Response:
    return await cache.respond(
        principal,
        PORTFOLIO_DOMAINS,
        lambda: portfolio.get_portfolio(
            deps.portfolio, principal.tenant_id, include_history=include_history, history_points=history_points
        ),
    )


@router.get(
    "/history",
    response_model=PortfolioHistory,
    operation_id="get_portfolio_history",
    summary="Portfolio history",
    description=(
        "Total value, cash and positions value of every snapshot between `start_time` and `end_time` "
        "(both inclusive; by default the last 30 days ending now), OLDEST FIRST, downsampled to at most "
        "`max_points` points. Downsampling keeps the first and the last point and the points of minimum "
        "and maximum `total_value`, plus the lowest and highest point of each of equal runs in between. "
        "History is kept for the retention period (DATA_RETENTION_DAYS, default 90). `start_time` after "
        f"`end_time`, a window over {portfolio.MAX_HISTORY_WINDOW.days} days or one holding over "
        f"{portfolio.MAX_HISTORY_POINTS} snapshots is a 422."
    ),
    responses={**_AUTH_RESPONSES, **CACHED_RESPONSES},
)
async def get_portfolio_history(
    principal: Viewer,
    deps: Deps,
    cache: Cached,
    window: QueryTimeRange,
    max_points: Annotated[int, Query(ge=MIN_POINTS, le=5000, description="At most this many points (4-5000)")] = 500,
) -> Response:
    return await cache.respond(
        principal,
        PORTFOLIO_DOMAINS,
        lambda: portfolio.get_history(deps.portfolio, principal.tenant_id, requested=window, max_points=max_points),
    )


app = create_app("AlphaPulse portfolio", routers=[router])
handler = lambda_handler(app)
startup.done()

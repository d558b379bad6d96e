"""System function: backend and trading-system health, the public health check, the merged
OpenAPI document (DESIGN section 4, Portfolio, trades and system) and its docs page."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from alphapulse.auth.models import Principal
from alphapulse.core.times import utcnow
from alphapulse.system import logic as system
from alphapulse.system.models import HealthStatus, SystemStatus
from alphapulse.system.wiring import SystemDependencies, dependencies
from alphapulse.web.app import api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.cache import CACHED_RESPONSES, Cached
from alphapulse.web.openapi import openapi_document
from alphapulse.web.security import require

router = api_router("/system", tags=["system"])
public = api_router(tags=["system"])


Deps = Annotated[SystemDependencies, Depends(dependencies.dependency)]
Operator = Annotated[Principal, require("view_system")]

_STATUS_DESCRIPTION = (
    "`database`: one timed read of the tenant's latest items; ok below "
    f"{system.DATABASE_DEGRADED_MS:.0f} ms, degraded above, down when it fails. "
    "`event_feed`: the newest stored event time among the latest trade, portfolio snapshot, system status and "
    f"metric values; ok when younger than {system.EVENT_FEED_STALE_AFTER.total_seconds():.0f} s, degraded when "
    "older, unknown (nulls) before any event. `status`: down when the database is down, degraded when a component "
    "is degraded, else ok. `trading_system`: the latest SystemStatusReported, or null."
)


@router.get(
    "",
    response_model=SystemStatus,
    operation_id="get_system_status",
    summary="Backend and trading-system health",
    description=_STATUS_DESCRIPTION,
    responses={**auth_responses("view_system"), **CACHED_RESPONSES},
)
async def status(principal: Operator, deps: Deps, cache: Cached) -> Response:
    # The event feed's freshness is the newest of these; the TTL (CACHE_ROUTE_TTLS) bounds its age.
    return await cache.respond(
        principal,
        ("system", "trades", "portfolio", "metrics"),
        lambda: system.system_status(deps.system, principal.tenant_id, now=utcnow()),
    )


@public.get(
    "/health",
    response_model=HealthStatus,
    operation_id="health",
    summary="Liveness: no auth, no data, no I/O",
)
async def health() -> HealthStatus:
    return HealthStatus()


@public.get(
    "/openapi.json",
    response_model=dict[str, Any],
    operation_id="get_openapi_document",
    summary="The OpenAPI 3 document of every REST route",
)
async def get_openapi_document() -> Response:
    return Response(content=openapi_document(), media_type="application/json")


# The docs page and its files are not API operations: they stay out of the OpenAPI document. Their module is
# imported at the first docs request, so that the other routes' cold starts do not compile it.
@public.get("/docs", include_in_schema=False)
async def docs_page(request: Request) -> Response:
    from alphapulse.web import docs

    return docs.docs_page_response(request)


@public.get("/docs/{name}", include_in_schema=False)
async def docs_file(name: str, request: Request) -> Response:
    from alphapulse.web import docs

    return docs.docs_asset_response(name, request)


app = create_app("AlphaPulse system", routers=[router, public])
handler = lambda_handler(app)
startup.done()

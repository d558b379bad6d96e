"""System function: backend and trading-system health, the public health check and the merged
OpenAPI document (DESIGN section 4, Portfolio, trades and system)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response

from alphapulse import system
from alphapulse.api import create_app, data_repository, lambda_handler
from alphapulse.auth import require
from alphapulse.models.auth import Principal
from alphapulse.models.system import HealthStatus, SystemStatus
from alphapulse.repositories.system import SystemRepository
from alphapulse.timeutil import utcnow

router = APIRouter(prefix="/system", tags=["system"])
public = APIRouter(tags=["system"])


Store = Annotated[SystemRepository, data_repository(SystemRepository)]
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
    responses={
        401: {"description": "Missing, invalid or expired access token"},
        403: {"description": "The token lacks the view_system permission"},
    },
)
async def status(principal: Operator, store: Store) -> SystemStatus:
    return system.system_status(store, principal.tenant_id, now=utcnow())


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
async def openapi_document() -> Response:
    return Response(content=system.openapi_document(), media_type="application/json")


app = create_app("AlphaPulse system", routers=[router, public])
handler = lambda_handler(app)

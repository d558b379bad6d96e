"""Audit function: the tenant's audit log, for holders of `view_audit_logs`."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from typing import Annotated

from fastapi import Depends, Query

from alphapulse.audit import logic as audit
from alphapulse.audit.models import ACTOR_MAX_LENGTH, AuditAction, AuditEntry
from alphapulse.audit.wiring import AuditDependencies, dependencies
from alphapulse.auth.models import Principal
from alphapulse.core.pagination import Page
from alphapulse.web.app import api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.params import Cursor, Limit, QueryTimeRange
from alphapulse.web.security import require

router = api_router("/audit", tags=["audit"])

Auditor = Annotated[Principal, require("view_audit_logs")]
Deps = Annotated[AuditDependencies, Depends(dependencies.dependency)]
Actor = Annotated[
    str | None, Query(min_length=1, max_length=ACTOR_MAX_LENGTH, description="Only this actor's entries (exact)")
]
Action = Annotated[AuditAction | None, Query(description="Only entries of this action")]


@router.get(
    "",
    response_model=Page[AuditEntry],
    operation_id="list_audit_entries",
    summary="List audit entries",
    description=(
        "The tenant's audit log between `start_time` and `end_time` (both inclusive; by default the last 30 "
        "days ending now), newest first, optionally of one `actor` and/or one `action`: logins (failed and "
        "throttled ones included), refresh-token reuse, logouts, acknowledgements and resolutions, rule "
        "changes, and user administration. Pass `next_cursor` back as `cursor`, with the same filters, for the "
        "next page. Entries expire after the stack's AuditRetentionDays."
    ),
    responses={
        **auth_responses("view_audit_logs"),
        400: {"description": "Malformed cursor, or a cursor of another tenant or of other filters"},
    },
)
async def list_entries(
    principal: Auditor,
    deps: Deps,
    window: QueryTimeRange,
    actor: Actor = None,
    action: Action = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AuditEntry]:
    return audit.list_entries(
        deps.entries, principal.tenant_id, actor=actor, action=action, requested=window, limit=limit, cursor=cursor
    )


app = create_app("AlphaPulse audit", routers=[router])
handler = lambda_handler(app)
startup.done()

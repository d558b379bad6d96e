"""The audit trail of a request: the `Trail` dependency of the routes that record what they do."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from alphapulse.audit import wiring
from alphapulse.audit.logic import AuditTrail


async def audit_trail(request: Request) -> AuditTrail:
    """Entries carry API Gateway's request id (the X-Request-Id answered) and the caller's address."""
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    request_id = context.get("requestId")
    return wiring.trail(
        source_ip=request.client.host if request.client else None,
        request_id=request_id if isinstance(request_id, str) else None,
    )


Trail = Annotated[AuditTrail, Depends(audit_trail)]

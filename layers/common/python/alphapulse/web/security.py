"""The FastAPI dependencies that enforce permissions, on top of `alphapulse.auth.logic.tokens` (JWT issuing and
verification: HS256 only, the algorithm pinned on decode, every claim of DESIGN section 3 required)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from alphapulse.auth.logic.tokens import verify_access_token
from alphapulse.auth.models import Permission, Principal
from alphapulse.core.errors import AuthenticationError, PermissionDeniedError


class _BearerPrincipal(HTTPBearer):
    """The Bearer security scheme (as OpenAPI shows it) that also verifies the token: one dependency."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise AuthenticationError("Not authenticated")
        return verify_access_token(credentials.credentials)


current_principal = _BearerPrincipal(
    auto_error=False, scheme_name="HTTPBearer", description="An access token from POST /api/v1/auth/token"
)
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """FastAPI dependency that admits only callers holding `permission` (401 without a token, else 403).

    Routes and dependencies are `async def` throughout: a Lambda container serves one request at a
    time, so blocking calls inside them cost nothing, while FastAPI's thread hand-off for plain
    `def` costs a new worker thread per invocation under Mangum (see docs/decisions.md).
    """

    async def check(principal: CurrentPrincipal) -> Principal:
        if permission not in principal.permissions:
            raise PermissionDeniedError(f"Missing permission: {permission}")
        return principal

    return Depends(check)

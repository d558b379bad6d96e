"""Auth function: login, refresh, logout, me and WebSocket tickets (DESIGN section 4, Auth)."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from alphapulse.auth.logic import accounts
from alphapulse.auth.models import LoginRequest, RefreshRequest, TokenResponse, UserPublic, WsTicketResponse
from alphapulse.auth.wiring import AuthDependencies, dependencies
from alphapulse.core import inputs
from alphapulse.core.errors import UnsupportedMediaTypeError
from alphapulse.web.app import MALFORMED_BODY, UNAUTHENTICATED, api_router, create_app, lambda_handler
from alphapulse.web.audit import Trail
from alphapulse.web.security import CurrentPrincipal

router = api_router("/auth", tags=["auth"])


Deps = Annotated[AuthDependencies, Depends(dependencies.dependency)]

_LOGIN_BODY = {
    "required": True,
    "content": {
        media: {"schema": LoginRequest.model_json_schema()}
        for media in ("application/x-www-form-urlencoded", "application/json")
    },
}


async def login_request(request: Request) -> LoginRequest:
    """The credentials, from an OAuth2 form or a JSON body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    try:
        if media == "application/x-www-form-urlencoded":
            fields: object = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        elif media == "application/json":
            fields = inputs.loads(body)
        else:
            raise UnsupportedMediaTypeError("Send application/x-www-form-urlencoded or application/json")
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestValidationError(
            [{"type": "body_invalid", "loc": ("body",), "msg": "Body is not valid form data or JSON"}]
        ) from exc
    try:
        return LoginRequest.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from exc


# `me` first: it is by far the most frequent call, and routes are matched in order.
@router.get("/me", response_model=UserPublic, operation_id="me", responses=UNAUTHENTICATED)
async def me(principal: CurrentPrincipal) -> UserPublic:
    return principal.public


@router.post(
    "/token",
    response_model=TokenResponse,
    operation_id="login",
    openapi_extra={"requestBody": _LOGIN_BODY},
    responses={
        401: {"description": "Wrong credentials"},
        415: {"description": "Neither form data nor JSON"},
        422: {"description": "A missing, empty or oversized field"},
        429: {"description": "Too many failed attempts"},
    },
)
async def token(
    credentials: Annotated[LoginRequest, Depends(login_request)], deps: Deps, trail: Trail
) -> TokenResponse:
    return accounts.login(deps.stores, credentials, trail)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    operation_id="refresh_token",
    responses={**MALFORMED_BODY, 401: {"description": "Invalid, expired, revoked or reused refresh token"}},
)
async def refresh(body: RefreshRequest, deps: Deps, trail: Trail) -> TokenResponse:
    return accounts.refresh(deps.stores, body.refresh_token, trail)


@router.post("/logout", status_code=204, response_class=Response, operation_id="logout", responses=UNAUTHENTICATED)
async def logout(principal: CurrentPrincipal, deps: Deps, trail: Trail) -> Response:
    accounts.logout(deps.stores, principal, trail)
    return Response(status_code=204)


@router.post("/ws-ticket", response_model=WsTicketResponse, operation_id="ws_ticket", responses=UNAUTHENTICATED)
async def ws_ticket(principal: CurrentPrincipal, deps: Deps) -> WsTicketResponse:
    return accounts.issue_ws_ticket(deps.stores, principal)


app = create_app("AlphaPulse auth", routers=[router])
handler = lambda_handler(app)
startup.done()

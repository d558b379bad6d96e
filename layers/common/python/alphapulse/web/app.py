"""The FastAPI app factory that every REST function uses, and its Lambda entry point.

It owns, once for all functions: the error mapping, the request-id header, the body
size limit, CORS, and the Lambda wrapper (Mangum + Powertools logger and metrics).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from alphapulse.core import inputs
from alphapulse.core.config import get_settings, prefetch_signing_key
from alphapulse.core.errors import AppError, InvalidQueryError
from alphapulse.core.observability import get_emf_metrics, get_logger
from alphapulse.web.fastapi_compat import lazy_v1_check

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024  # no dashboard request comes near it; larger bodies get 413
REQUEST_ID_HEADER = "x-request-id"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

lazy_v1_check()  # before any route is built: no `pydantic.v1` import

# Response descriptions that several routes share (the body is always `{"detail": ...}`).
UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {401: {"description": "Missing, invalid or expired access token"}}
MALFORMED_BODY: dict[int | str, dict[str, Any]] = {400: {"description": "The body is not UTF-8 text"}}


def auth_responses(permission: str | None = None) -> dict[int | str, dict[str, Any]]:
    """The 401 and 403 answers of a route that requires `permission` (None: routes of several permissions)."""
    lacks = f"The token lacks the {permission} permission" if permission else "The token lacks the permission"
    return {**UNAUTHENTICATED, 403: {"description": lacks}}


def api_router(prefix: str = "", *, tags: list[str]) -> APIRouter:
    """A router whose routes are served under /api/v1`prefix` by `create_app`."""
    return APIRouter(prefix=API_PREFIX + prefix, tags=list(tags))


def create_app(title: str, *, routers: list[APIRouter]) -> FastAPI:
    """A FastAPI app with the shared middleware and error handlers, serving the routes of `routers` (`api_router`).

    The routes are handed to the app as they are. `include_router` would have FastAPI build every route of a
    router a second time, at the first request (docs/decisions.md, cold start).
    """
    routes = [route for router in routers for route in router.routes]
    paths = [str(getattr(route, "path", route)) for route in routes]
    outside = [path for path in paths if not path.startswith(API_PREFIX + "/")]
    if outside:
        raise ValueError(f"routes outside {API_PREFIX} (use api_router): {outside}")
    app = FastAPI(
        title=title,
        version="1.0.0",
        openapi_url=None,  # the merged document is served by one route for all functions
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
        redirect_slashes=False,  # a redirect's Location would drop API Gateway's stage
        routes=routes,
    )
    app.add_exception_handler(InvalidQueryError, _invalid_query)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def lambda_handler(app: FastAPI) -> LambdaHandler:
    """The Lambda entry point of `app`, built at the first invocation (settings are read then)."""

    @lru_cache(maxsize=1)
    def build() -> LambdaHandler:
        from mangum import Mangum
        from starlette.middleware.cors import CORSMiddleware

        # CORS wraps the whole app, so that error responses (500s included) carry it too.
        cors = CORSMiddleware(
            app,
            allow_origins=list(get_settings().cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"],
            max_age=600,
        )
        asgi = Mangum(cors, lifespan="off")
        logger, emf = get_logger(), get_emf_metrics()
        cold_start = True

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            nonlocal cold_start
            request_id = _event_request_id(event)
            # What Powertools' inject_lambda_context adds, for a fraction of its cost per request
            # (its JMESPath correlation-id lookup alone took longer than this whole wrapper).
            if cold_start:
                logger.append_keys(
                    function_name=context.function_name,
                    function_memory_size=context.memory_limit_in_mb,
                    function_arn=context.invoked_function_arn,
                )
            logger.append_keys(
                cold_start=cold_start, function_request_id=context.aws_request_id, correlation_id=request_id
            )
            cold_start = False
            if _body_size(event) > MAX_BODY_BYTES:
                response = _too_large()
            elif _too_deep(event):
                response = _nested_too_deep()
            else:
                response = asgi(event, context)
                if emf.metric_set:
                    emf.flush_metrics()
            response.setdefault("headers", {})[REQUEST_ID_HEADER] = request_id
            return response

        return invoke

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return build()(event, context)

    return handler


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    return len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())


def _too_deep(event: dict[str, Any]) -> bool:
    """A JSON body nested deeper than inputs.MAX_DEPTH, refused before any parser recurses into it (FastAPI
    reads a body without a content type as JSON too)."""
    body = event.get("body")
    if not body:
        return False
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "")
    if media and "json" not in media.lower():
        return False
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body)
        except ValueError:
            return False  # not base64: FastAPI refuses it on its own
    return inputs.text_depth_exceeds(body)


def _nested_too_deep() -> dict[str, Any]:
    error = {"type": "json_invalid", "loc": ["body"], "msg": f"JSON nested deeper than {inputs.MAX_DEPTH} levels"}
    return {
        "statusCode": 422,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"detail": [error]}),
        "isBase64Encoded": False,
    }


def _event_request_id(event: dict[str, Any]) -> str:
    request_id = (event.get("requestContext") or {}).get("requestId")
    return request_id if isinstance(request_id, str) and request_id else uuid.uuid4().hex


def _too_large() -> dict[str, Any]:
    """413 before any parsing: the whole request arrives in the event, so its size is known."""
    return {
        "statusCode": 413,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"detail": f"Request body larger than {MAX_BODY_BYTES} bytes"}),
        "isBase64Encoded": False,
    }


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        get_logger().error("request failed", extra={"error": exc.detail}, exc_info=exc)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers())


async def _invalid_query(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidQueryError)
    error = {"type": "value_error", "loc": ["query", exc.parameter], "msg": exc.detail}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be a password.
    errors = [{k: v for k, v in error.items() if k in ("type", "loc", "msg")} for error in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    get_logger().exception("unhandled error")
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


# At import, early in a REST function's init: its routes are defined while Secrets Manager answers.
prefetch_signing_key()

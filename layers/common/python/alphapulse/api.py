"""The FastAPI app factory that every REST function uses, and its Lambda entry point.

It owns, once for all functions: the error mapping, the request-id header, the body
size limit, CORS, and the Lambda wrapper (Mangum + Powertools logger, metrics, tracer).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alphapulse.config import get_settings
from alphapulse.errors import AppError
from alphapulse.observability import get_logger, get_metrics, get_tracer

API_PREFIX = "/api/v1"
REQUEST_ID_HEADER = "x-request-id"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def create_app(title: str, *, routers: list[Any]) -> FastAPI:
    """A FastAPI app with the shared middleware and error handlers, serving `routers` under /api/v1."""
    app = FastAPI(
        title=title,
        version="1.0.0",
        openapi_url=None,  # the merged document is served by one route for all functions
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(_LazyCors)
    app.add_middleware(_RequestGuard)
    return app


def lambda_handler(app: FastAPI) -> LambdaHandler:
    """The Lambda entry point of `app`; Powertools wrappers are built at the first invocation."""

    @lru_cache(maxsize=1)
    def build() -> LambdaHandler:
        from aws_lambda_powertools.logging import correlation_paths
        from mangum import Mangum

        asgi = Mangum(app, lifespan="off")

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            response: dict[str, Any] = asgi(event, context)
            return response

        wrapped = get_tracer().capture_lambda_handler(invoke, capture_response=False)
        wrapped = get_metrics().log_metrics(wrapped)
        wrapped = get_logger().inject_lambda_context(
            wrapped, correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
        )
        return wrapped

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return build()(event, context)

    return handler


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        get_logger().error("request failed", extra={"error": exc.detail}, exc_info=exc)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers())


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be a password.
    errors = [{k: v for k, v in error.items() if k in ("type", "loc", "msg")} for error in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    get_logger().exception("unhandled error")
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def _json_error(status: int, detail: str, request_id: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class _RequestGuard:
    """Gives every response an X-Request-Id and refuses bodies above the configured size with 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        limit = get_settings().max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                for reply in _json_error(413, f"Request body larger than {limit} bytes", request_id):
                    await send(reply)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, replay, send_with_id)


def _request_id(scope: Scope) -> str:
    event = scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(request_id, str) and request_id:
        return request_id
    return uuid.uuid4().hex


class _LazyCors:
    """Starlette's CORS middleware, configured from settings at the first request, not at import."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._cors is None:
            from starlette.middleware.cors import CORSMiddleware

            self._cors = CORSMiddleware(
                self.app,
                allow_origins=list(get_settings().cors_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["X-Request-Id", "X-Cache", "Retry-After"],
                max_age=600,
            )
        await self._cors(scope, receive, send)

"""The Lambda Invoke API for the template's functions, on the AWS endpoint, as functions call each other.

moto runs in a process of its own and cannot run our functions, so its server forwards
`POST /2015-03-31/functions/{name}/invocations` to the stack (`/_local/functions/{name}/invocations` on the
REST port), which answers as Lambda does: RequestResponse runs the function and returns its result (an error
as `X-Amz-Function-Error: Unhandled`), Event queues it with Lambda's asynchronous retries and destinations
and answers 202, DryRun answers 204.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import httpx

from devstack.runtime.worker import FunctionError

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
LOCAL_PATH = re.compile(r"/_local/functions/(?P<name>[^/]+)/invocations")
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def forwarding(app: Wsgi, stack_url: str) -> Wsgi:
    """moto's WSGI app, with invocations sent to the stack at `stack_url`."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = INVOKE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if found is None or environ["REQUEST_METHOD"] != "POST":
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {"X-Amz-Invocation-Type": environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")}
        try:
            reply = httpx.post(f"{stack_url}/_local/functions/{found['name']}/invocations", content=body,
                               headers=headers, timeout=900)  # fmt: skip
            status, payload = reply.status_code, reply.content
            passed = [(k, v) for k, v in reply.headers.items() if k.lower().startswith(("x-amz", "content-type"))]
        except httpx.TransportError as exc:
            status, passed = 502, [("Content-Type", "application/json")]
            payload = json.dumps({"Type": "Service", "message": f"the local stack is not answering: {exc}"}).encode()
        start_response(f"{status} {'OK' if status < 300 else 'Error'}", passed)
        return [payload]

    return middleware


def answer(name: str, invocation_type: str, body: bytes, *, function_named: Callable[[str], str | None],
           invoke: Callable[[str, Any], Any],
           invoke_async: Callable[[str, Any], None]) -> tuple[int, bytes, list[tuple[str, str]]]:  # fmt: skip
    """(status, body, headers) of one Invoke call. `function_named` finds a function by name or ARN."""
    logical_id = function_named(unquote(name))
    if logical_id is None:
        return _error(404, "ResourceNotFoundException", f"Function not found: {unquote(name)}")
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
    if invocation_type == "DryRun":
        return 204, b"", []
    if invocation_type == "Event":
        invoke_async(logical_id, event)
        return 202, b"", []
    if invocation_type != "RequestResponse":
        return _error(400, "InvalidParameterValueException", f"unknown InvocationType {invocation_type}")
    headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
    try:
        return 200, json.dumps(invoke(logical_id, event)).encode(), headers
    except FunctionError as error:
        return 200, json.dumps(error.payload).encode(), [*headers, ("X-Amz-Function-Error", "Unhandled")]


def _error(status: int, code: str, message: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return status, body, [("Content-Type", "application/json"), ("X-Amzn-ErrorType", code)]

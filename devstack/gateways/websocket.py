"""The local stack's API Gateway WebSocket API: routes, authorizer, Lambda proxy events and @connections.

`websocket_apis` reads the template's AWS::ApiGatewayV2 resources; `WebSocketGateway` serves one API
(WebSocket upgrades and the connection management API on one port) with aiohttp, on an event loop
of its own in a daemon thread. Functions are invoked through a blocking `invoke(logical_id, event)`
on a thread pool, never on the loop, so a function may call `POST /@connections/{id}` on this same
server while it runs.

Limits as API Gateway's (quotas page): message payload 128 KB, idle timeout 10 minutes, connection
duration 2 hours. Where we differ, deliberately:
- a client message above 128 KB is answered with an error frame `{"message": "Message too long", ...}`
  and the connection stays open (API Gateway closes it with 1009); above aiohttp's 4 MB buffer
  bound the connection is closed with 1009 as API Gateway does;
- the 32 KB frame size is not enforced: clients reassemble frames, so it changes nothing they see,
  and outgoing messages are sent as one frame;
- one connection's messages are dispatched in order, one at a time (API Gateway does not promise
  an order; subscribe-then-replay relies on it locally, and a client cannot tell the difference);
- only messages from the client count as activity for the idle timeout (pushes do not), so a
  client that only listens must send something, as our `ping` action, at least every 10 minutes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web

from devstack.gateways.signatures import signature_problem
from devstack.runtime.worker import FunctionError
from devstack.template.load import function_behind, references, resources_of_type
from devstack.template.resolve import ACCOUNT_ID, FUNCTION, REGION, STAGE, LocalResolver

MAX_MESSAGE_BYTES = 128 * 1024
API_ID = "local"
INJECTABLE_FAULTS: dict[str, tuple[int, str, str]] = {
    "connections-429": (429, "LimitExceededException", "Rate exceeded"),
    "connections-500": (500, "InternalServerErrorException", "Internal server error"),
}


def parse_faults(text: str) -> dict[str, float]:
    """`connections-429:0.2,connections-500:0.05` as {name: share}; ValueError for an unknown fault or share."""
    faults: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, share = part.partition(":")
        if name not in INJECTABLE_FAULTS:
            raise ValueError(f"unknown fault {name!r}: known are {', '.join(INJECTABLE_FAULTS)}")
        faults[name] = float(share)
        if not 0 <= faults[name] <= 1:
            raise ValueError(f"the share of {name} must be between 0 and 1")
    if sum(faults.values()) > 1:
        raise ValueError("the shares of the faults add up to more than 1")
    return faults


CONNECTIONS_PATH = re.compile(r"(?:/(?P<stage>[^/]+))?/@connections/(?P<connection_id>[^/]+)")
SELECTION_EXPRESSION = re.compile(r"\$\{?request\.body\.(?P<path>[\w.-]+)\}?")

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]


# --- the template's model -------------------------------------------------------------------


@dataclass(frozen=True)
class Authorizer:
    """A REQUEST Lambda authorizer: its function and the identity sources that must be present."""

    function: str
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebSocketRoute:
    key: str
    function: str
    authorizer: Authorizer | None = None
    returns_response: bool = False  # RouteResponseSelectionExpression set: the integration's body goes back


@dataclass(frozen=True)
class WebSocketApiModel:
    logical_id: str
    stage: str
    body_path: tuple[str, ...]  # the route selection expression $request.body.<a.b> as ("a", "b")
    routes: dict[str, WebSocketRoute] = field(default_factory=dict)

    def route_key(self, body: str | None) -> str:
        """The route a message selects, `$default` when the body is not JSON or names no route."""
        try:
            value: Any = json.loads(body) if body is not None else None
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
            return "$default"
        for name in self.body_path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value in self.routes and not value.startswith("$"):
            return value
        return "$default"


def websocket_apis(template: dict[str, Any], resolver: LocalResolver) -> dict[str, WebSocketApiModel]:
    """Every WEBSOCKET AWS::ApiGatewayV2::Api of the template, with its stage, routes and authorizers."""
    functions = set(resources_of_type(template, FUNCTION))  # the template is expanded: SAM's are these now
    integrations = resources_of_type(template, "AWS::ApiGatewayV2::Integration")
    authorizers = resources_of_type(template, "AWS::ApiGatewayV2::Authorizer")
    stages = resources_of_type(template, "AWS::ApiGatewayV2::Stage")
    routes = resources_of_type(template, "AWS::ApiGatewayV2::Route")

    def function_of(uri: Any, owner: str) -> str:
        found = [function for name in references(uri) if (function := function_behind(template, name)) in functions]
        if not found:
            raise ValueError(f"{owner}: no function of this template in {uri!r}")
        return found[0]

    apis: dict[str, WebSocketApiModel] = {}
    for api_id, api in resources_of_type(template, "AWS::ApiGatewayV2::Api").items():
        props = api["Properties"]
        if props.get("ProtocolType") != "WEBSOCKET":
            continue
        expression = str(resolver.resolve(props.get("RouteSelectionExpression", "")))
        selection = SELECTION_EXPRESSION.fullmatch(expression)
        if selection is None:
            raise ValueError(f"{api_id}: route selection expression {expression!r} is not $request.body.<path>")
        stage_names = [str(resolver.resolve(stage["Properties"]["StageName"])) for stage in stages.values()
                       if references(stage["Properties"].get("ApiId")) == [api_id]]  # fmt: skip
        model = WebSocketApiModel(api_id, stage_names[0] if stage_names else STAGE,
                                  tuple(selection["path"].split(".")))  # fmt: skip
        for route_id, route in routes.items():
            route_props = route["Properties"]
            if references(route_props.get("ApiId")) != [api_id]:
                continue
            targets = [name for name in references(route_props.get("Target")) if name in integrations]
            if not targets:
                raise ValueError(f"{route_id}: Target must name an AWS::ApiGatewayV2::Integration of this template")
            integration = integrations[targets[0]]["Properties"]
            if integration.get("IntegrationType") != "AWS_PROXY":
                raise ValueError(f"{targets[0]}: the local stack serves AWS_PROXY (Lambda) integrations only")
            authorizer = None
            if route_props.get("AuthorizationType") == "CUSTOM":
                (authorizer_id,) = references(route_props.get("AuthorizerId"))
                authorizer_props = authorizers[authorizer_id]["Properties"]
                if authorizer_props.get("AuthorizerType") != "REQUEST":
                    raise ValueError(f"{authorizer_id}: WebSocket APIs take REQUEST authorizers")
                sources = tuple(str(resolver.resolve(s)) for s in authorizer_props.get("IdentitySource") or ())
                authorizer = Authorizer(function_of(authorizer_props.get("AuthorizerUri"), authorizer_id), sources)
            key = str(resolver.resolve(route_props["RouteKey"]))
            model.routes[key] = WebSocketRoute(
                key, function_of(integration.get("IntegrationUri"), targets[0]), authorizer,
                returns_response=bool(route_props.get("RouteResponseSelectionExpression")),
            )  # fmt: skip
        apis[api_id] = model
    return apis


# --- events as API Gateway builds them --------------------------------------------------------


def _aws_id() -> str:
    """An id shaped like API Gateway's connection, request and message ids ('AFn1qdNVCYcCJlA=')."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


@dataclass
class Connection:
    id: str
    source_ip: str
    user_agent: str
    domain_name: str
    connected_at: float
    authorizer: dict[str, Any] | None = None
    websocket: web.WebSocketResponse | None = None
    last_active_at: float = 0.0
    close_status: tuple[int, str] | None = None  # set when the server closes it
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    inbox: asyncio.Queue[str | bytes | None] = field(default_factory=lambda: asyncio.Queue(maxsize=64))

    def __post_init__(self) -> None:
        self.last_active_at = self.connected_at


def _request_context(api: WebSocketApiModel, connection: Connection, route_key: str, event_type: str,
                     *, user_agent: bool = True) -> dict[str, Any]:  # fmt: skip
    now = time.time()
    request_id = _aws_id()
    identity = {"userAgent": connection.user_agent, "sourceIp": connection.source_ip} if user_agent else {
        "sourceIp": connection.source_ip}  # fmt: skip
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": int(connection.connected_at * 1000),
        "requestTimeEpoch": int(now * 1000),
        "identity": identity,
        "requestId": request_id,
        "domainName": connection.domain_name,
        "connectionId": connection.id,
        "apiId": API_ID,
    }
    if connection.authorizer is not None:
        context["authorizer"] = dict(connection.authorizer)
    return context


def _multi(pairs: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def connect_event(api: WebSocketApiModel, connection: Connection, request: web.BaseRequest) -> dict[str, Any]:
    """The $connect event: headers and query string of the upgrade request."""
    headers, multi_headers = _multi([*request.headers.items(), ("X-Forwarded-For", connection.source_ip)])
    query, multi_query = _multi(request.query.items())
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
    if query:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = query, multi_query
    event["requestContext"] = _request_context(api, connection, "$connect", "CONNECT")
    event["isBase64Encoded"] = False
    return event


def message_event(api: WebSocketApiModel, connection: Connection, route_key: str, data: str | bytes) -> dict[str, Any]:
    """A MESSAGE event; a binary frame's body is base64-encoded."""
    context = _request_context(api, connection, route_key, "MESSAGE", user_agent=False)
    context = {"routeKey": route_key, "messageId": _aws_id(), **context}
    if isinstance(data, bytes):
        return {"requestContext": context, "body": base64.b64encode(data).decode("ascii"), "isBase64Encoded": True}
    return {"requestContext": context, "body": data, "isBase64Encoded": False}


def disconnect_event(api: WebSocketApiModel, connection: Connection, code: int, reason: str) -> dict[str, Any]:
    headers = {"Host": connection.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _request_context(api, connection, "$disconnect", "DISCONNECT")
    context.update(disconnectStatusCode=int(code), disconnectReason=reason)
    return {"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": context, "isBase64Encoded": False}  # fmt: skip


# --- the gateway ------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class WebSocketGateway:
    """One WebSocket API on host:port (port 0 picks a free one), with its @connections API on the same port."""

    def __init__(self, api: WebSocketApiModel, invoke: Invoke, *, host: str = "127.0.0.1", port: int,
                 idle_timeout: float = 600, max_lifetime: float = 7200,
                 signing_keys: Mapping[str, str] | None = None, lose_disconnect_on_drop: bool = False,
                 faults: Mapping[str, float] | None = None, tls: ssl.SSLContext | None = None,
                 tls_port: int = 0) -> None:  # fmt: skip
        self.api, self.host, self.port = api, host, port
        # With `tls`, the same API also answers HTTPS (and wss) on `tls_port` (0: a free one), and events carry
        # that port in `domainName`: functions that build https://{domainName}/{stage} reach it.
        self.tls, self.tls_port = tls, tls_port
        self.idle_timeout, self.max_lifetime = idle_timeout, max_lifetime
        # $disconnect is best effort in API Gateway; this loses it for connections that end without a
        # close frame, so tests can show that the next push cleans them up (410).
        self.lose_disconnect_on_drop = lose_disconnect_on_drop
        # Given (access key -> secret key), every @connections call must be SigV4-signed by one of them, or 403.
        self.signing_keys = signing_keys
        # Fault injection (DEVSTACK_FAULTS): the share of @connections posts answered 429 or 500 at random.
        self.faults = dict(faults or {})
        self._invoke = invoke
        self._connections: dict[str, Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def connections(self) -> list[str]:
        """The ids of the open connections."""
        return list(self._connections)

    # --- lifecycle ---

    def start(self) -> WebSocketGateway:
        """Serve on a loop of its own in a daemon thread; returns once listening."""
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix=f"ws-{self.api.logical_id}")
        self._loop = asyncio.new_event_loop()
        started: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(started,), name=f"ws-{self.api.logical_id}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(started), 30), self._loop).result()
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, started: asyncio.Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)

        async def listen() -> None:
            try:
                app = web.Application(client_max_size=2 * MAX_MESSAGE_BYTES)
                app.router.add_route("*", "/{tail:.*}", self._handle)
                self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await self._runner.setup()
                await web.TCPSite(self._runner, self.host, self.port).start()
                self.port = self._runner.addresses[0][1]
                if self.tls is not None:
                    await web.TCPSite(self._runner, self.host, self.tls_port, ssl_context=self.tls).start()
                    self.tls_port = self._runner.addresses[1][1]
                started.set_result(None)
            except Exception as exc:  # the port is taken, for example: start() raises it
                started.set_exception(exc)

        self._loop.create_task(listen())
        self._loop.run_forever()

    def stop(self) -> None:
        """Close every connection (each gets its $disconnect), stop serving and end the thread."""
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(Exception):  # already stopping, or never started listening
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._executor:
            self._executor.shutdown(wait=True)
        self._loop, self._thread, self._executor = None, None, None

    async def _shutdown(self) -> None:
        connections = list(self._connections.values())
        for connection in connections:
            self._close(connection, WSCloseCode.GOING_AWAY, "Going away")
        await asyncio.gather(*(c.finished.wait() for c in connections))
        if self._runner:
            await self._runner.cleanup()

    # --- HTTP ---

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        found = CONNECTIONS_PATH.fullmatch(request.raw_path.split("?", 1)[0])
        if found:
            if found["stage"] not in (None, self.api.stage):
                return _error(403, "ForbiddenException", "Forbidden")
            return await self._manage(request, unquote(found["connection_id"]))
        if request.path in ("/", f"/{self.api.stage}") and request.method == "GET":
            return await self._upgrade(request)
        return _error(403, "ForbiddenException", "Forbidden")

    async def _manage(self, request: web.Request, connection_id: str) -> web.StreamResponse:
        """POST, GET and DELETE /@connections/{id}, answered as the management API answers."""
        if self.signing_keys is not None:
            problem = signature_problem(request.method, request.raw_path, request.headers, await request.read(),
                                        self.signing_keys)  # fmt: skip
            if problem:
                return _error(403, *problem)
        connection = self._connections.get(connection_id)
        if request.method == "POST":
            fault = self._injected_fault()
            if fault is not None:
                return fault
            if (request.content_length or 0) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Request entity too large")
            data = await request.read()
            if len(data) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Request entity too large")
            if connection is None or not await self._send(connection, data):
                return _gone()
            return web.Response(status=200)
        if connection is None or connection.websocket is None or connection.close_status is not None:
            return _gone()
        if request.method == "GET":
            return web.json_response({
                "connectedAt": _iso(connection.connected_at),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": _iso(connection.last_active_at),
            })  # fmt: skip
        if request.method == "DELETE":
            # Answered at once; $disconnect runs after, as in API Gateway (a function may delete its own connection).
            self._close(connection, WSCloseCode.OK, "Connection deleted")
            return web.Response(status=204)
        return _error(403, "ForbiddenException", "Forbidden")

    def _injected_fault(self) -> web.Response | None:
        draw = random.random()  # noqa: S311 (fault injection, not security)
        for name, (status, code, message) in INJECTABLE_FAULTS.items():
            share = self.faults.get(name, 0.0)
            if draw < share:
                return _error(status, code, message)
            draw -= share
        return None

    async def _send(self, connection: Connection, data: str | bytes) -> bool:
        """Send one message (text when it is UTF-8); False when the connection is gone."""
        await connection.opened.wait()
        websocket = connection.websocket
        if websocket is None or websocket.closed or connection.close_status is not None:
            return False
        if isinstance(data, bytes):
            with contextlib.suppress(UnicodeDecodeError):
                data = data.decode("utf-8")
        try:
            await (websocket.send_bytes(data) if isinstance(data, bytes) else websocket.send_str(data))
        except (ConnectionError, RuntimeError):  # the peer went away while we wrote
            return False
        return True

    # --- connections ---

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        websocket = web.WebSocketResponse(compress=False, autoclose=True, autoping=True)
        if not websocket.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required"}, status=426)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        domain = f"{request.host.rsplit(':', 1)[0]}:{self.tls_port}" if self.tls else request.host
        connection = Connection(_aws_id(), peer[0] if peer else "127.0.0.1", request.headers.get("User-Agent", ""),
                                domain, time.time())  # fmt: skip
        try:
            protocol = await self._authorize_and_connect(request, connection)
        except _Refused as refused:
            return web.json_response({"message": refused.message}, status=refused.status)
        if protocol:
            websocket = web.WebSocketResponse(compress=False, protocols=(protocol,))
        # Registered once $connect said yes: posts wait for the handshake instead of seeing 410.
        self._connections[connection.id] = connection
        try:
            await websocket.prepare(request)
        except Exception:
            self._connections.pop(connection.id, None)
            connection.opened.set()
            connection.finished.set()
            await self._disconnect(connection, WSCloseCode.ABNORMAL_CLOSURE, "Connection was closed abnormally")
            raise
        connection.websocket = websocket
        connection.opened.set()
        await self._serve(connection, websocket)
        return websocket

    async def _authorize_and_connect(self, request: web.Request, connection: Connection) -> str | None:
        """Run the authorizer and the $connect route; the subprotocol to accept, or _Refused."""
        route = self.api.routes.get("$connect")
        if route is None:
            return None
        if route.authorizer is not None:
            connection.authorizer = await self._authorize(route.authorizer, request, connection)
        try:
            response = await self._call(route.function, connect_event(self.api, connection, request))
        except FunctionError:
            raise _Refused(502, "Internal server error") from None
        status = response.get("statusCode") if isinstance(response, dict) else None
        if not isinstance(status, int):
            log.warning("%s answered $connect without a statusCode", route.function)
            raise _Refused(502, "Internal server error")
        if not 200 <= status < 300:
            raise _Refused(status, "Forbidden" if status == 403 else "Unauthorized" if status == 401 else "Refused")
        headers = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        return headers.get("sec-websocket-protocol")

    async def _authorize(self, authorizer: Authorizer, request: web.Request, connection: Connection) -> dict[str, Any]:
        """A REQUEST authorizer's verdict: the requestContext.authorizer of the connection, or _Refused."""
        for source in authorizer.identity_sources:
            kind, _, name = source.removeprefix("route.request.").partition(".")
            present = request.query.get(name) if kind == "querystring" else request.headers.get(name)
            if not present:
                raise _Refused(401, "Unauthorized")
        event = connect_event(self.api, connection, request)
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self.api.stage}/$connect"
        event.update(type="REQUEST", methodArn=method_arn, stageVariables={})
        try:
            policy = await self._call(authorizer.function, event)
        except FunctionError as error:
            if error.payload.get("errorMessage") == "Unauthorized":
                raise _Refused(401, "Unauthorized") from None
            raise _Refused(500, "Internal server error") from None
        try:
            statements = policy["policyDocument"]["Statement"]
            allowed = bool(statements) and all(s["Effect"] == "Allow" for s in statements)
            context = policy.get("context") or {}
            if any(isinstance(v, dict | list) for v in context.values()):
                raise ValueError("authorizer context values must be strings, numbers or booleans")
            principal = policy["principalId"]
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s returned an invalid authorizer response: %s", authorizer.function, exc)
            raise _Refused(500, "Internal server error") from None
        if not allowed:
            raise _Refused(403, "Forbidden")
        return {**context, "principalId": principal}

    async def _serve(self, connection: Connection, websocket: web.WebSocketResponse) -> None:
        """Read the client's messages into the connection's inbox until it closes; then $disconnect."""
        loop = asyncio.get_running_loop()
        dispatcher = loop.create_task(self._dispatch(connection))
        expiry = loop.create_task(self._expire(connection))
        message: WSMessage | None = None
        try:
            while True:
                message = await websocket.receive()
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                connection.last_active_at = time.time()
                await connection.inbox.put(message.data)
        finally:
            self._connections.pop(connection.id, None)
            expiry.cancel()
            if connection.close_status is None:  # the client left
                connection.close_status = _client_close_status(message)
            await websocket.close()
            await connection.inbox.put(
                None
            )  # messages that came before the close are still dispatched, then $disconnect
            await dispatcher
            dropped = connection.close_status[0] == WSCloseCode.ABNORMAL_CLOSURE
            if not (dropped and self.lose_disconnect_on_drop):
                await self._disconnect(connection, *connection.close_status)
            connection.finished.set()

    async def _dispatch(self, connection: Connection) -> None:
        """One connection's messages, in the order they came, one at a time."""
        while True:
            data = await connection.inbox.get()
            if data is None:
                return
            try:
                await self._on_message(connection, data)
            except Exception:  # one bad message must not leave the connection unanswered for good
                log.exception("message on connection %s failed", connection.connection_id)
                await self._send(connection, _frame("Internal server error", connection))

    async def _on_message(self, connection: Connection, data: str | bytes) -> None:
        size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        if size > MAX_MESSAGE_BYTES:
            await self._send(connection, _frame("Message too long", connection))
            return
        key = self.api.route_key(data if isinstance(data, str) else None)
        route = self.api.routes.get(key)
        if route is None:
            await self._send(connection, _frame("Forbidden", connection))
            return
        event = message_event(self.api, connection, key, data)
        try:
            response = await self._call(route.function, event)
        except FunctionError:
            await self._send(connection, _frame("Internal server error", connection, event))
            return
        if route.returns_response and isinstance(response, dict) and response.get("body") is not None:
            body = response["body"]
            await self._send(connection, base64.b64decode(body) if response.get("isBase64Encoded") else str(body))

    async def _expire(self, connection: Connection) -> None:
        """Close the connection once it is idle too long or reaches its maximum lifetime."""
        while True:
            deadline = min(connection.last_active_at + self.idle_timeout, connection.connected_at + self.max_lifetime)
            if deadline <= time.time():
                break
            await asyncio.sleep(deadline - time.time())
        self._close(connection, WSCloseCode.GOING_AWAY, "Going away")

    def _close(self, connection: Connection, code: int, reason: str) -> None:
        """Close from the server's side, once: from now on it is gone; the reading side then runs $disconnect."""
        if connection.close_status is not None:
            return
        connection.close_status = (code, reason)

        async def send_close() -> None:
            await connection.opened.wait()
            if connection.websocket is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await connection.websocket.close(code=code, message=reason.encode())

        task = asyncio.get_running_loop().create_task(send_close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _disconnect(self, connection: Connection, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        if route is not None:
            with contextlib.suppress(FunctionError):  # nothing to tell a client that has gone
                await self._call(route.function, disconnect_event(self.api, connection, code, reason))

    async def _call(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function on the thread pool (invoke blocks); FunctionError when it raised."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._invoke, function, event)
        except FunctionError as error:
            log.warning("%s failed on %s: %s", function, event["requestContext"].get("routeKey"), error)
            raise


def _client_close_status(message: WSMessage | None) -> tuple[int, str]:
    """The disconnectStatusCode and disconnectReason for a connection that ended from the client's side."""
    if message is not None and message.type == WSMsgType.CLOSE:
        if not message.data:
            return 1005, "Client-side close frame status not set"
        return int(message.data), str(message.extra or "")
    error = message.data if message is not None and message.type == WSMsgType.ERROR else None
    if isinstance(error, WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG:  # above aiohttp's bound
        return WSCloseCode.MESSAGE_TOO_BIG, "Message too big"
    return WSCloseCode.ABNORMAL_CLOSURE, "Connection was closed abnormally"  # no close frame


def _frame(message: str, connection: Connection, event: Mapping[str, Any] | None = None) -> str:
    """API Gateway's own error frame for a connection."""
    request_id = event["requestContext"]["requestId"] if event else _aws_id()
    return json.dumps({"message": message, "connectionId": connection.id, "requestId": request_id})


def _error(status: int, error_type: str, message: str) -> web.Response:
    """A management API error as botocore parses it (the type in x-amzn-errortype)."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-errortype": error_type})


def _gone() -> web.Response:
    return _error(410, "GoneException", "Connection is gone")

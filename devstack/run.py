"""`python -m devstack run`: moto server, the template's resources, warm functions and the REST API."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack import sam_env
from devstack.demo.feed import DemoFeed
from devstack.emulation import server as moto_server
from devstack.events import notifications
from devstack.events.router import EventRouter, provision_messaging
from devstack.gateways.rest import rest_event
from devstack.gateways.static import StaticSite
from devstack.gateways.tls import LocalTls
from devstack.gateways.websocket import WebSocketGateway, parse_faults, websocket_apis
from devstack.runtime import lambda_api
from devstack.runtime.worker import DEFAULT_CONCURRENCY, FunctionError, FunctionPool
from devstack.template.functions import Function, functions_of
from devstack.template.load import TEMPLATE, create_tables, resources_of_type
from devstack.template.resolve import DEFAULT_STACK_NAME, REGION, LocalResolver, read_template

DEMO_USERS = (
    ("admin", "default", "admin", "admin-demo-password"),
    ("trader", "default", "trader", "trader-demo-password"),
    ("viewer", "default", "viewer", "viewer-demo-password"),
    ("acme-admin", "acme", "admin", "acme-admin-demo-password"),
)
OUTBOX = Path(".devstack", "outbox")  # what email and SMS subscriptions would have received
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION,
                     "AWS_REGION": REGION}  # fmt: skip


class LocalStack:
    """The whole application on loopback ports, driven by template.yaml."""

    def __init__(self, *, http_port: int, aws_port: int, ws_port: int, jwt_secret: str, bind: str = "127.0.0.1",
                 settings: LocalSettings | None = None, template: Path = TEMPLATE,
                 parameters: Mapping[str, str] | None = None,
                 stack_name: str = DEFAULT_STACK_NAME) -> None:  # fmt: skip
        # `bind` is where the servers listen (DEVSTACK_HOST); `host` is how this machine reaches them.
        self.bind, self.http_port, self.aws_port, self.ws_port = bind, http_port, aws_port, ws_port
        self.host = "127.0.0.1" if bind in ("0.0.0.0", "") else bind
        self.jwt_secret = jwt_secret
        self.settings = settings or LocalSettings()
        self.template, self.parameters = read_template(template, parameters, stack_name=stack_name)
        self.demo = template.resolve() == TEMPLATE.resolve()  # AlphaPulse's demo users, data and feed
        self.code_root = template.resolve().parent  # CodeUri is relative to the template, as for SAM
        self.aws_endpoint = f"http://{self.host}:{aws_port}"
        self.workers: dict[str, FunctionPool] = {}
        self.functions: dict[str, Function] = {}
        self.outputs: dict[str, str] = {}
        self.gateways: dict[str, WebSocketGateway] = {}
        self._moto: Any = None
        self._http: ThreadingHTTPServer | None = None
        self._router: EventRouter | None = None
        self._feed: DemoFeed | None = None
        self.tls = LocalTls("127.0.0.1", "localhost", self.host)  # the management API's HTTPS side
        self._scratch = tempfile.TemporaryDirectory(prefix="devstack-")  # inline code (ZipFile, InlineCode)
        self.site: StaticSite | None = None  # the web dashboard, on the REST API's origin (AlphaPulse only)

    # --- AWS emulation ---

    def start_aws(self) -> None:
        self._moto = moto_server.start_process(
            self.bind, self.aws_port, stack_url=f"http://{self.host}:{self.http_port}"
        )
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.aws_endpoint})

    def provision(self) -> LocalResolver:
        """Create the template's tables and secrets; returns a resolver that knows their local names."""
        import boto3

        parameters = LocalResolver(self.template, self.parameters)
        tables = resources_of_type(self.template, "AWS::DynamoDB::Table")
        names = create_tables(boto3.client("dynamodb", endpoint_url=self.aws_endpoint, region_name=REGION),
                              self.template, lambda table: str(parameters.resolve(  # physical names, as deployed
                                  tables[table]["Properties"].get("TableName", table))))  # fmt: skip
        messaging = provision_messaging(self.template, self.aws_endpoint, region=REGION, values=self.parameters)
        local_values = {**self.parameters, **names, **messaging}
        secretsmanager = boto3.client("secretsmanager", endpoint_url=self.aws_endpoint, region_name=REGION)
        for logical_id, secret in resources_of_type(self.template, "AWS::SecretsManager::Secret").items():
            props = secret.get("Properties", {})
            value = str(parameters.resolve(props.get("SecretString", self.jwt_secret)))  # generated: the signing key
            name = str(parameters.resolve(props.get("Name", logical_id)))
            local_values[logical_id] = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        for logical_id in resources_of_type(self.template, "AWS::ApiGateway::RestApi"):
            local_values[f"{logical_id}.LocalUrl"] = f"http://{self.host}:{self.http_port}"
        if self.demo:  # AlphaPulse's dashboard (DashboardUrl) is the page on the REST origin (dashboard_site)
            for logical_id in resources_of_type(self.template, "AWS::CloudFront::Distribution"):
                local_values[f"{logical_id}.LocalUrl"] = f"http://{self.host}:{self.http_port}/"
        apis = resources_of_type(self.template, "AWS::ApiGatewayV2::Api")
        websocket_ids = [name for name, api in apis.items() if api["Properties"].get("ProtocolType") == "WEBSOCKET"]
        if len(websocket_ids) > 1:
            raise SystemExit(f"the local stack serves one WebSocket API on WS_PORT; the template has {websocket_ids}")
        for logical_id in websocket_ids:
            local_values[f"{logical_id}.LocalUrl"] = f"http://{self.host}:{self.ws_port}"
        resolver = LocalResolver(self.template, local_values)
        self.outputs = {name: str(resolver.resolve(output["Value"]))
                        for name, output in self.template.get("Outputs", {}).items()}  # fmt: skip
        return resolver

    def seed_demo_users(self, table: str) -> None:
        from alphapulse.auth.logic import accounts
        from alphapulse.auth.wiring import stores_of
        from alphapulse.aws import dynamodb
        from alphapulse.core.errors import ConflictError

        dynamodb.reset()
        stores = stores_of(table)
        for username, tenant, role, password in DEMO_USERS:
            with contextlib.suppress(ConflictError):  # already seeded
                accounts.create_user(stores, username=username, tenant_id=tenant, role=role, password=password)

    # --- functions ---

    def start_functions(self, resolver: LocalResolver, only: Collection[str] | None = None) -> None:
        """Up to `concurrency` warm processes per function (or those named), one started at once."""
        self.functions = functions_of(self.template, resolver, Path(self._scratch.name, "inline"))
        for logical_id, function in self.functions.items():
            if only is not None and logical_id not in only:
                continue
            environment = {**function.environment, **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.aws_endpoint,
                           "APP_ENV": "local",
                           "AWS_LAMBDA_FUNCTION_NAME": logical_id, "AWS_CA_BUNDLE": str(self.tls.ca_file),
                           "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",  # as Lambda sets it
                           # As `sam local invoke` sets it: the context's remaining time counts down from it.
                           "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
                           **self.settings.function_environment}  # fmt: skip
            paths = [str(self.code_root / path) for path in (function.code_uri, *function.layers)]
            self.workers[logical_id] = FunctionPool(
                logical_id, paths, function.handler, environment, concurrency=self.settings.concurrency
            )
        for worker in self.workers.values():
            worker.wait_ready()

    @property
    def tls_port(self) -> int | None:
        """The HTTPS (and wss) port of the WebSocket API, once it is served."""
        return next((gateway.tls_port for gateway in self.gateways.values()), None)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.workers[logical_id].invoke(event)

    def invoke_async(self, logical_id: str, event: dict[str, Any]) -> None:
        """As Lambda's Event invocation type: queued, retried, then sent to the function's destinations."""
        self._running_router().invoke_async(logical_id, event)

    def function_named(self, name_or_arn: str) -> str | None:
        """The logical id of the function that Lambda's API knows by this name or ARN."""
        return self._running_router().function_named(name_or_arn)

    def _running_router(self) -> EventRouter:
        if self._router is None:
            raise RuntimeError("the Lambda API needs the event router (route_events)")
        return self._router

    # --- REST ---

    def serve_http(self) -> ThreadingHTTPServer:
        stack = self

        class Handler(_RestHandler):
            local = stack

        self._http = ThreadingHTTPServer((self.bind, self.http_port), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="rest", daemon=True).start()
        return self._http

    # --- WebSocket and events ---

    def serve_websockets(self, resolver: LocalResolver) -> None:
        for logical_id, api in websocket_apis(self.template, resolver).items():
            self.gateways[logical_id] = WebSocketGateway(
                api, self.invoke, host=self.bind, port=self.ws_port,
                idle_timeout=self.settings.ws_idle_timeout, max_lifetime=self.settings.ws_max_lifetime,
                lose_disconnect_on_drop=self.settings.ws_lose_disconnect_on_drop, faults=self.settings.faults,
                signing_keys={LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]: LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
                if self.settings.require_sigv4 else None, tls=self.tls.server_context(),
            ).start()  # fmt: skip

    def route_events(self, resolver: LocalResolver) -> None:
        delivery = notifications.DeliverySettings(
            base_url=f"http://{self.host}:{self.http_port}", ca_bundle=self.settings.ca_bundle,
            outbox=self.settings.outbox or self.code_root / OUTBOX,
        )  # fmt: skip
        self._router = EventRouter(self.template, resolver, self.aws_endpoint, self.invoke,
                                   retry_delays=self.settings.retry_delays,
                                   schedule_seconds=self.settings.schedule_seconds,
                                   concurrency=self.settings.concurrency, delivery=delivery).start()  # fmt: skip

    def answer_sns(self, path: str, query: Mapping[str, str]) -> tuple[int, bytes, list[tuple[str, str]]]:
        """GET /_local/sns...: what an endpoint subscription fetches (SubscribeURL, UnsubscribeURL, SigningCertURL)."""
        notifier = self._running_router().notifier
        if notifier is None:
            return 404, b'{"message": "the template subscribes no endpoint to a topic"}', []
        return notifier.answer(path, query)

    def start_demo_feed(self) -> None:
        bus, topic = self.outputs.get("EventBusName"), self.outputs.get("AlertsTopicArn")
        if self.settings.demo_feed and bus and topic:
            self._feed = DemoFeed(aws_endpoint=self.aws_endpoint, bus_name=bus, topic_arn=topic,
                                  tenants=demo_tenants(), interval=self.settings.demo_feed_interval)  # fmt: skip
            self._feed.start()

    def start(self) -> None:
        self.start_aws()
        resolver = self.provision()
        if self.demo:
            from devstack.demo import data as demo_data

            self.seed_demo_users(self.outputs["AuthTableName"])
            self.site = self.dashboard_site()
            for tenant in demo_tenants():
                demo_data.seed(self.outputs["DataTableName"], tenant)
        self.start_functions(resolver)
        self.serve_websockets(resolver)
        self.route_events(resolver)
        self.serve_http()  # last: once it answers, everything else is up
        if self._router and self._router.notifier:  # their SubscribeURL is on the HTTP server
            self._router.notifier.subscribe()
        if self.demo:
            self.start_demo_feed()
        sam_env.write(self)

    def dashboard_site(self) -> StaticSite:
        """The built dashboard (`web/dist/`), with a config.json that points at this stack's APIs."""
        from devstack.dashboard import DIST

        websocket = self.outputs.get("WebSocketUrl", f"ws://{self.host}:{self.ws_port}")
        return StaticSite(DIST, {"apiUrl": "/api/v1", "webSocketUrl": websocket})

    def stop(self) -> None:
        if self._feed:
            self._feed.stop()
        if self._router:
            self._router.stop()
        for gateway in self.gateways.values():
            gateway.stop()
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        for pool in self.workers.values():
            pool.request_stop()
        for pool in self.workers.values():
            pool.join()
        self.tls.close()
        self._scratch.cleanup()
        if self._moto:
            self._moto.terminate()
            self._moto.join(timeout=10)


class _RestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into API Gateway REST proxy events for the function that owns the route."""

    local: LocalStack
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK (40 ms per request on keep-alive connections).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        from devstack.gateways.rest import response_body, response_headers

        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if url.path == "/_local/outputs" and self.command == "GET":
            self._reply(200, json.dumps(self.local.outputs).encode(), [])
            return
        if url.path.startswith(notifications.PATH) and self.command == "GET":
            self._reply(*self.local.answer_sns(url.path, dict(parse_qsl(url.query))))
            return
        invocation = lambda_api.LOCAL_PATH.fullmatch(url.path)
        if invocation and self.command == "POST":
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            local = self.local
            self._reply(*lambda_api.answer(invocation["name"], kind, body or b"", function_named=local.function_named,
                                           invoke=local.invoke, invoke_async=local.invoke_async))  # fmt: skip
            return
        for function in self.local.functions.values():
            for route in function.routes:
                params = route.match(self.command, url.path)
                if params is None:
                    continue
                event = rest_event(
                    self.command, url.path, resource=route.path, path_parameters=params,
                    headers=list(self.headers.items()), query=parse_qsl(url.query, keep_blank_values=True),
                    body=body, stage=route.stage, source_ip=self.client_address[0], domain_name=f"{self.local.host}",
                )  # fmt: skip
                try:
                    response = self.local.invoke(function.logical_id, event)
                except FunctionError:
                    self._reply(502, b'{"message": "Internal server error"}', [])
                    return
                self._reply(int(response["statusCode"]), response_body(response), response_headers(response))
                return
        page = self.local.site.answer(url.path) if self.local.site and self.command == "GET" else None
        if page:  # the dashboard: only its own paths, so that any other stays API Gateway's 403
            self._reply(*page)
            return
        self._reply(403, b'{"message": "Missing Authentication Token"}', [])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, PROPFIND...) is no route, as in API Gateway; not the stdlib's 501 page.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


def demo_tenants() -> list[str]:
    return sorted({tenant for _, tenant, _, _ in DEMO_USERS})


@dataclass(frozen=True)
class LocalSettings:
    """Knobs of the local stack itself, from the environment (defaults are AWS's own limits)."""

    ws_idle_timeout: float = 600.0
    ws_max_lifetime: float = 7200.0
    ws_lose_disconnect_on_drop: bool = False
    retry_delays: tuple[float, ...] = (60.0, 120.0)  # Lambda's async retries wait about 1 and 2 minutes
    schedule_seconds: float | None = None  # replaces every schedule's period (tests sweep every second)
    demo_feed: bool = True
    demo_feed_interval: float = 2.0
    concurrency: int = DEFAULT_CONCURRENCY  # warm workers per function, as Lambda runs invocations in parallel
    faults: dict[str, float] = field(default_factory=dict)  # injected @connections failures (DEVSTACK_FAULTS)
    require_sigv4: bool = False  # @connections calls must be signed with the local credentials (DEVSTACK_REQUIRE_SIGV4)
    function_environment: dict[str, str] = field(default_factory=dict)
    outbox: Path | None = None  # email and SMS deliveries (DEVSTACK_OUTBOX); default OUTBOX beside the template
    ca_bundle: Path | None = None  # authorities https subscriptions may use besides the system's (DEVSTACK_CA_BUNDLE)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalSettings:
        delays, schedule = environ.get("DEVSTACK_RETRY_DELAYS"), environ.get("DEVSTACK_SCHEDULE_SECONDS")
        # Passed through to every function, so tests can shorten token lifetimes and the like.
        passed = {name: value for name, value in environ.items() if name in FUNCTION_SETTINGS}
        # The demo feed makes every function log several lines a second: warnings only, unless asked.
        passed.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        return cls(
            ws_idle_timeout=float(environ.get("WS_IDLE_TIMEOUT_SECONDS") or 600),
            ws_max_lifetime=float(environ.get("WS_MAX_CONNECTION_SECONDS") or 7200),
            ws_lose_disconnect_on_drop=environ.get("WS_LOSE_DISCONNECT_ON_DROP") == "1",
            retry_delays=tuple(float(d) for d in delays.split(",")) if delays else cls.retry_delays,
            schedule_seconds=float(schedule) if schedule else None,
            demo_feed=environ.get("DEMO_FEED", "1") != "0",
            demo_feed_interval=float(environ.get("DEMO_FEED_INTERVAL") or 2.0),
            concurrency=int(environ.get("DEVSTACK_CONCURRENCY") or DEFAULT_CONCURRENCY),
            faults=parse_faults(environ.get("DEVSTACK_FAULTS", "")),
            require_sigv4=environ.get("DEVSTACK_REQUIRE_SIGV4") == "1",
            function_environment=passed,
            outbox=Path(environ["DEVSTACK_OUTBOX"]) if environ.get("DEVSTACK_OUTBOX") else None,
            ca_bundle=Path(environ["DEVSTACK_CA_BUNDLE"]) if environ.get("DEVSTACK_CA_BUNDLE") else None,
        )


FUNCTION_SETTINGS = frozenset({"ACCESS_TOKEN_TTL_SECONDS", "WS_MAX_CONNECTION_SECONDS", "REPLAY_RETENTION_SECONDS",
                               "FANOUT_SHARD_THRESHOLD", "WS_TICKET_TTL_SECONDS", "POWERTOOLS_LOG_LEVEL",
                               "CORS_ORIGINS"})  # fmt: skip


def banner(stack: LocalStack) -> str:
    """What `make run` prints: URLs, demo users and first requests to copy."""
    base = f"http://{stack.host}:{stack.http_port}"
    users = "\n".join(f"    {u:<11} tenant {t:<8} role {r:<7} password {p}" for u, t, r, p in DEMO_USERS)
    websocket = stack.outputs.get("WebSocketUrl", f"ws://{stack.host}:{stack.ws_port}")
    feed = "on (DEMO_FEED=0 turns it off)" if stack.settings.demo_feed else "off"
    return f"""
AlphaPulse local stack is up.
  Dashboard       {base}/   (sign in as a demo user below)
  REST API        {base}/api/v1
  WebSocket API   {websocket}   (management API: http://{stack.host}:{stack.ws_port}/@connections/{{id}},
                  also https://{stack.host}:{stack.tls_port}, which events name as their domainName)
  AWS endpoint    {stack.aws_endpoint}   (region {REGION}, any credentials)
  Outputs         {base}/_local/outputs
  Demo feed       {feed}
  Demo users:
{users}

Try:
  TOKEN=$(curl -s -X POST {base}/api/v1/auth/token -d 'username=trader&password=trader-demo-password' \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {base}/api/v1/portfolio -H "Authorization: Bearer $TOKEN"
  .venv/bin/python -m websockets "{websocket}?token=$TOKEN"
      then type: {{"action":"subscribe","channels":["trades","portfolio"]}}

Ctrl-C stops everything.
"""


def main(template: Path = TEMPLATE, overrides: Mapping[str, str] | None = None,
         stack_name: str = DEFAULT_STACK_NAME) -> int:  # fmt: skip
    import signal

    http_port = int(os.environ.get("HTTP_PORT") or 3000)
    aws_port = int(os.environ.get("AWS_PORT") or 4566)
    ws_port = int(os.environ.get("WS_PORT") or 3001)
    jwt_secret = os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48)
    try:
        stack = LocalStack(http_port=http_port, aws_port=aws_port, ws_port=ws_port, jwt_secret=jwt_secret,
                           bind=os.environ.get("DEVSTACK_HOST") or "127.0.0.1", template=template,
                           parameters=overrides, stack_name=stack_name,
                           settings=LocalSettings.from_environ(os.environ))  # fmt: skip
    except (OSError, ValueError) as exc:  # no such file, not YAML, or a template SAM refuses
        print(f"error: {template}: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.start()
        print(banner(stack) if stack.demo else stack_banner(stack), flush=True)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("stopped", flush=True)
    return 0


def stack_banner(stack: LocalStack) -> str:
    """What `devstack run --template` prints for another application: its endpoints and Outputs."""
    outputs = "\n".join(f"    {name:<24} {value}" for name, value in stack.outputs.items())
    return f"""
Local stack is up ({len(stack.functions)} functions).
  REST APIs       http://{stack.host}:{stack.http_port}
  WebSocket API   ws://{stack.host}:{stack.ws_port}   (management API also at https://{stack.host}:{stack.tls_port})
  AWS endpoint    {stack.aws_endpoint}   (region {REGION}, any credentials)
  Outputs:
{outputs}

Ctrl-C stops everything.
"""

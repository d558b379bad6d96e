"""`python -m devstack run`: moto server, the template's resources, warm functions and the REST API."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack.apigw import rest_event
from devstack.moto_atomic import make_dynamodb_atomic
from devstack.secrets_extension import SecretsExtension
from devstack.stack import REGION, STAGE, Function, LocalResolver, functions_of
from devstack.template import create_tables, load_template, resources_of_type
from devstack.worker import FunctionError, FunctionWorker

DEMO_USERS = (
    ("admin", "default", "admin", "admin-demo-password"),
    ("trader", "default", "trader", "trader-demo-password"),
    ("viewer", "default", "viewer", "viewer-demo-password"),
    ("acme-admin", "acme", "admin", "acme-admin-demo-password"),
)
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION,
                     "AWS_REGION": REGION}  # fmt: skip


class LocalStack:
    """The whole application on loopback ports, driven by template.yaml."""

    def __init__(self, *, http_port: int, aws_port: int, jwt_secret: str, host: str = "127.0.0.1") -> None:
        self.host, self.http_port, self.aws_port = host, http_port, aws_port
        self.jwt_secret = jwt_secret
        self.template = load_template()
        self.aws_endpoint = f"http://{host}:{aws_port}"
        self.workers: dict[str, FunctionWorker] = {}
        self.functions: dict[str, Function] = {}
        self.outputs: dict[str, str] = {}
        self._moto: Any = None
        self._http: ThreadingHTTPServer | None = None
        self._extension: SecretsExtension | None = None

    # --- AWS emulation ---

    def start_aws(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        make_dynamodb_atomic()
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._moto.start()
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.aws_endpoint})

    def provision(self) -> LocalResolver:
        """Create the template's tables and secrets; returns a resolver that knows their local names."""
        import boto3

        names = create_tables(boto3.client("dynamodb", endpoint_url=self.aws_endpoint, region_name=REGION),
                              self.template)  # fmt: skip
        local_values = dict(names)
        secretsmanager = boto3.client("secretsmanager", endpoint_url=self.aws_endpoint, region_name=REGION)
        for logical_id in resources_of_type(self.template, "AWS::SecretsManager::Secret"):
            created = secretsmanager.create_secret(Name=logical_id, SecretString=self.jwt_secret)
            local_values[logical_id] = created["ARN"]
        for logical_id in resources_of_type(self.template, "AWS::Serverless::Api"):
            local_values[logical_id] = f"http://{self.host}:{self.http_port}"
        resolver = LocalResolver(self.template, local_values)
        self.outputs = self._resolve_outputs(resolver)
        return resolver

    def _resolve_outputs(self, resolver: LocalResolver) -> dict[str, str]:
        apis = set(resources_of_type(self.template, "AWS::Serverless::Api"))
        outputs: dict[str, str] = {}
        for name, output in self.template.get("Outputs", {}).items():
            value = output["Value"]
            referenced = (
                {value.get("Ref")} | set(_sub_names(value.get("Fn::Sub"))) if isinstance(value, dict) else set()
            )
            api = referenced & apis
            outputs[name] = resolver.values[api.pop()] if api else str(resolver.resolve(value))
        return outputs

    def seed_demo_users(self, table: str) -> None:
        from alphapulse import accounts, clients
        from alphapulse.errors import ConflictError
        from alphapulse.repositories import auth_stores

        clients.reset()
        stores = auth_stores(table)
        for username, tenant, role, password in DEMO_USERS:
            with contextlib.suppress(ConflictError):  # already seeded
                accounts.create_user(stores, username=username, tenant_id=tenant, role=role, password=password)

    # --- functions ---

    def start_functions(self, resolver: LocalResolver) -> None:
        """One warm process per function. Secrets come through the extension, as in AWS."""
        session_token = secrets.token_urlsafe(24)
        self._extension = SecretsExtension(aws_endpoint=self.aws_endpoint, session_token=session_token,
                                           region=REGION, host=self.host).start()  # fmt: skip
        self.functions = functions_of(self.template, resolver)
        for logical_id, function in self.functions.items():
            environment = {**function.environment, **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.aws_endpoint,
                           "AWS_SESSION_TOKEN": session_token, "APP_ENV": "local",
                           "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self._extension.port),
                           "AWS_LAMBDA_FUNCTION_NAME": logical_id}  # fmt: skip
            self.workers[logical_id] = FunctionWorker(logical_id, function.code_uri, function.handler, environment)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.workers[logical_id].invoke(event)

    # --- REST ---

    def serve_http(self) -> ThreadingHTTPServer:
        stack = self

        class Handler(_RestHandler):
            local = stack

        self._http = ThreadingHTTPServer((self.host, self.http_port), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="rest", daemon=True).start()
        return self._http

    def start(self) -> None:
        self.start_aws()
        resolver = self.provision()
        auth_table = self.outputs.get("AuthTableName")
        if auth_table:
            self.seed_demo_users(auth_table)
        data_table = self.outputs.get("DataTableName")
        if data_table:
            from devstack import demo_data

            for tenant in sorted({tenant for _, tenant, _, _ in DEMO_USERS}):
                demo_data.seed(data_table, tenant)
        self.start_functions(resolver)
        self.serve_http()

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        for worker in self.workers.values():
            worker.stop()
        if self._extension:
            self._extension.stop()
        if self._moto:
            self._moto.stop()


def _sub_names(sub: Any) -> list[str]:
    text = sub if isinstance(sub, str) else (sub[0] if isinstance(sub, list) else "")
    return re.findall(r"\$\{([^}.!]+)", text)


class _RestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into API Gateway REST proxy events for the function that owns the route."""

    local: LocalStack
    protocol_version = "HTTP/1.1"

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
        from devstack.apigw import response_body, response_headers

        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if url.path == "/_local/outputs" and self.command == "GET":
            self._reply(200, json.dumps(self.local.outputs).encode(), [])
            return
        for function in self.local.functions.values():
            for route in function.routes:
                params = route.match(self.command, url.path)
                if params is None:
                    continue
                event = rest_event(
                    self.command, url.path, resource=route.path, path_parameters=params,
                    headers=list(self.headers.items()), query=parse_qsl(url.query, keep_blank_values=True),
                    body=body, stage=STAGE, source_ip=self.client_address[0], domain_name=f"{self.local.host}",
                )  # fmt: skip
                try:
                    response = self.local.invoke(function.logical_id, event)
                except FunctionError:
                    self._reply(502, b'{"message": "Internal server error"}', [])
                    return
                self._reply(int(response["statusCode"]), response_body(response), response_headers(response))
                return
        self._reply(403, b'{"message": "Missing Authentication Token"}', [])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


def banner(stack: LocalStack) -> str:
    """What `make run` prints: URLs, demo users and a first request to copy."""
    base = f"http://{stack.host}:{stack.http_port}"
    users = "\n".join(f"    {u:<11} tenant {t:<8} role {r:<7} password {p}" for u, t, r, p in DEMO_USERS)
    return f"""
AlphaPulse local stack is up.
  REST API        {base}/api/v1
  AWS endpoint    {stack.aws_endpoint}   (region {REGION}, any credentials)
  Outputs         {base}/_local/outputs
  Demo users:
{users}

Try:
  curl -s -X POST {base}/api/v1/auth/token -d 'username=trader&password=trader-demo-password'
  TOKEN=$(curl -s -X POST {base}/api/v1/auth/token -d 'username=trader&password=trader-demo-password' \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {base}/api/v1/auth/me -H "Authorization: Bearer $TOKEN"

Ctrl-C stops everything.
"""


def main() -> None:
    import signal

    http_port = int(os.environ.get("HTTP_PORT") or 3000)
    aws_port = int(os.environ.get("AWS_PORT") or 4566)
    jwt_secret = os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48)
    stack = LocalStack(http_port=http_port, aws_port=aws_port, jwt_secret=jwt_secret)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stack.start()
    print(banner(stack), flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("stopped", flush=True)

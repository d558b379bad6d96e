"""Shared fixtures: a moto-backed AWS with the template's own tables, and a REST client that
drives a function's Lambda handler with real API Gateway proxy events."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from devstack.gateways.rest import response_body, response_headers, rest_event
from devstack.ports import free_port
from devstack.runtime.handlers import LambdaContext, load_handler
from devstack.template.functions import Function as TemplateFunction
from devstack.template.functions import functions_of
from devstack.template.load import create_tables, load_template
from devstack.template.resolve import LocalResolver, read_template
from tests.fakes import FakeManagementApi

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
TEST_SECRET = "test-signing-secret-" + secrets.token_hex(16)


def template_functions() -> list[TemplateFunction]:
    """Every function of template.yaml, as the local stack reads them."""
    template, parameters = read_template(ROOT / "template.yaml")
    return list(functions_of(template, LocalResolver(template, parameters)).values())


def fresh_python(code: str, *, code_dir: Path | None = None) -> str:
    """What `code` prints in a fresh interpreter with the layer (and `code_dir`, also its working directory) on
    its path, in a local app environment."""
    path = [str(code_dir)] if code_dir else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT / "layers/common/python")]),
           "APP_ENV": "local", "JWT_SECRET": "s" * 48, "AWS_REGION": "us-east-1"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=code_dir, env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def in_function(function: TemplateFunction, code: str) -> str:
    """What `code` prints, run after importing one function's handler in a fresh interpreter, as Lambda's init
    (`snapshot_restore_py` imported as `s`)."""
    module, _ = function.handler.rsplit(".", 1)
    return fresh_python(f"import {module}, snapshot_restore_py as s\n{code}", code_dir=ROOT / function.code_uri)


def load_event(name: str, **placeholders: str) -> dict[str, Any]:
    """A canned event from events/<name>.json, with `{{name}}` placeholders (tokens) filled in."""
    text = (EVENTS / f"{name}.json").read_text()
    for key, value in placeholders.items():
        text = text.replace("{{" + key + "}}", value)
    event: dict[str, Any] = json.loads(text)
    return event


def reset_caches() -> None:
    """Forget settings, clients, keys and dependencies cached by the layer (each test sets its own environment)."""
    from alphapulse.aws import dynamodb, sdk, secrets, sns, sqs
    from alphapulse.core import config, wiring

    config.get_settings.cache_clear()
    config.signing_key.cache_clear()
    dynamodb.reset()
    sdk.reset()
    secrets.reset()
    sns.reset()
    sqs.reset()
    wiring.reset_all()


@pytest.fixture
def log_output(app_env: None) -> Iterator[io.StringIO]:
    """What the layer's logger writes (through its redacting formatter), at DEBUG."""
    from alphapulse.core.observability import get_logger

    logger = get_logger()
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    level = logger.log_level
    logger.setLevel("DEBUG")
    yield buffer
    logger.setLevel(level)
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext("test-function")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment the template gives functions, pointed at fake credentials."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "APP_ENV": "local",
        "JWT_SECRET": TEST_SECRET,
        "AUTH_TABLE": "AuthTable",
        "DATA_TABLE": "DataTable",
        "CONNECTIONS_TABLE": "ConnectionsTable",
        "CORS_ORIGINS": "http://localhost:5173",
        "POWERTOOLS_METRICS_NAMESPACE": "AlphaPulseTest",
        "POWERTOOLS_SERVICE_NAME": "test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("JWT_SECRET_ARN", raising=False)
    reset_caches()
    yield
    reset_caches()


@pytest.fixture(scope="session")
def _moto_endpoint() -> Iterator[str]:
    from devstack.emulation import server as moto_server

    port = free_port()
    server = moto_server.start_here("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_server(app_env: None, _moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto server (one per test session, emptied after each test), set as AWS_ENDPOINT_URL; its endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_endpoint)
    reset_caches()
    try:
        yield _moto_endpoint
    finally:
        request = urllib.request.Request(f"{_moto_endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request).close()


@pytest.fixture
def gateway() -> Iterator[FakeManagementApi]:
    """The fake WebSocket management API (tests.fakes), on a free loopback port."""
    api = FakeManagementApi()
    yield api
    api.stop()


@pytest.fixture
def aws(moto_server: str) -> dict[str, str]:
    """Every table of template.yaml, created in moto; logical id -> table name."""
    import boto3

    return create_tables(boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1"), load_template())


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class RestClient:
    """Calls one function's handler the way API Gateway does for `/api/v1/<prefix>/{proxy+}`."""

    def __init__(self, code_uri: str, prefix: str) -> None:
        self.handler = load_handler(code_uri)
        self.prefix = prefix

    def request_raw(self, method: str, path: str, *, resource: str, token: str | None = None) -> Reply:
        """A request to a route outside the function's prefix (such as /api/v1/health)."""
        headers = [("Host", "api.test")] + ([("Authorization", f"Bearer {token}")] if token else [])
        response = self.handler(
            rest_event(method, path, resource=resource, headers=headers), LambdaContext(self.prefix)
        )
        pairs = response_headers(response)
        return Reply(response["statusCode"], {k.lower(): v for k, v in pairs}, response_body(response), pairs)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> Reply:
        all_headers = {"Host": "api.test", "User-Agent": "pytest", **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urlencode(form).encode()
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        base = f"/api/v1/{self.prefix}"
        # API Gateway matches the bare path to its own resource, anything below it to {proxy+}.
        resource, params = (
            (base, None) if path == base else (f"{base}/{{proxy+}}", {"proxy": path.removeprefix(base + "/")})
        )
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters=params,
            headers=list(all_headers.items()),
            query=query or [],
            body=body,
        )
        response = self.handler(event, LambdaContext(self.prefix))
        pairs = response_headers(response)
        return Reply(response["statusCode"], {k.lower(): v for k, v in pairs}, response_body(response), pairs)


@pytest.fixture
def auth_api(aws: dict[str, str]) -> RestClient:
    return RestClient("functions/auth", "auth")


DEMO_USERS = {
    "admin": ("default", "admin", "admin-demo-password"),
    "trader": ("default", "trader", "trader-demo-password"),
    "viewer": ("default", "viewer", "viewer-demo-password"),
    "acme-admin": ("acme", "admin", "acme-admin-demo-password"),
}


@pytest.fixture
def demo_users(aws: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """The demo users of DESIGN section 3, stored in the auth table."""
    from alphapulse.auth.logic import accounts
    from alphapulse.auth.wiring import stores_of

    stores = stores_of(aws["AuthTable"])
    for username, (tenant, role, password) in DEMO_USERS.items():
        accounts.create_user(stores, username=username, tenant_id=tenant, role=role, password=password)
    return DEMO_USERS


def token_claims(
    *, username: str = "trader", tenant_id: str = "default", role: str = "trader", lifetime: int = 900, **overrides: Any
) -> dict[str, Any]:
    """The claims of an access token as the auth function issues them, for tests that forge or vary one.

    `overrides` replace claims; an override of None leaves that claim out.
    """
    from alphapulse.auth.models import ROLE_PERMISSIONS

    now = int(time.time())
    claims = {
        "sub": username,
        "tenant_id": tenant_id,
        "role": role,
        "permissions": sorted(ROLE_PERMISSIONS.get(role, ())),  # a forged role has none
        "iat": now,
        "exp": now + lifetime,
        "iss": "alphapulse",
        "aud": "alphapulse-dashboard",
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "sid": uuid.uuid4().hex,
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not None}


def login(api: RestClient, username: str) -> dict[str, Any]:
    """Log a demo user in; the token response."""
    reply = api.request("POST", "/api/v1/auth/token", form={"username": username, "password": DEMO_USERS[username][2]})
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


# --- event-driven functions ---


def items(endpoint: str, table: str) -> list[dict[str, Any]]:
    """Every item of the table (a test may scan; the code never does)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    return list(client.scan(TableName=table).get("Items", []))


class Function:
    """One function's handler, invoked the way Lambda does for an asynchronous event."""

    def __init__(self, code_uri: str) -> None:
        self.handler = load_handler(code_uri)
        self.name = code_uri.rsplit("/", 1)[-1]

    def __call__(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LambdaContext(self.name))


def eventbridge(detail_type: str, detail: dict[str, Any], *, source: str = "alphapulse.trading") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-01-15T14:30:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sns(*messages: Any) -> dict[str, Any]:
    records = [
        {
            "EventSource": "aws:sns",
            "Sns": {
                "Type": "Notification",
                "MessageId": f"m-{number}",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                "Message": message if isinstance(message, str) else json.dumps(message),
                "Timestamp": "2026-01-15T14:31:02.118Z",
            },
        }
        for number, message in enumerate(messages)
    ]
    return {"Records": records}


def raw_websocket(ws_url: str, query: str) -> socket.socket:
    """A socket upgraded to a WebSocket by hand, for clients that misbehave (say nothing, or send garbage)."""
    url = urlsplit(ws_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /?{query} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
    sock.sendall(request.encode())
    assert sock.recv(4096).startswith(b"HTTP/1.1 101"), "the upgrade was refused"
    return sock

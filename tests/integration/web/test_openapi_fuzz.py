"""Property-based fuzzing of every route of docs/openapi.json with schemathesis (issue 3).

Each operation of the merged OpenAPI document gets its own test. Schemathesis generates `EXAMPLES`
(100) requests per operation, a derandomized mix of schema-conforming and schema-violating ones
(the latter where the operation has anything to violate). Each is sent through the owning
function's real Lambda handler as an API Gateway REST proxy event (moto behind it), and the
response is checked with schemathesis' own checks:

* no 5xx (and no exception out of the handler);
* the status code is documented for the operation;
* the Content-Type, the headers and the JSON body match what is documented for that status.

So that the success answers get checked too, not only the error ones: secured operations get a real
access token on three requests in four (the fourth keeps the bearer token schemathesis made up);
the auth function's own operations get a live session each; every other schema-conforming request
names a freshly seeded alert or rule and carries a rule condition/message_template the app accepts;
login and refresh now and then get real credentials. Operations without any documented input get
unknown query parameters instead, which they must ignore.

Every distinct failure (operation, check, status) is collected, with the first request that showed
it, and the test fails listing all of them, unless the failure is one of KNOWN_FINDINGS below.

Exclusions (KNOWN_FINDINGS): none. The first run found undocumented 400/401/422/415 answers on
several routes; they are documented now.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alphapulse.auth.logic.tokens import issue_token
from devstack.gateways.rest import response_body, response_headers, rest_event
from devstack.runtime.handlers import LambdaContext, load_handler
from tests.conftest import ROOT

EXAMPLES = 100
BASE_URL = "http://api.test"
OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
FUNCTIONS = ("auth", "metrics", "alerts", "portfolio", "trades", "system", "audit")
# Resources of their own in template.yaml (anything else is below a function's `{proxy+}`).
BARE_RESOURCES = {"/api/v1/health": "system", "/api/v1/openapi.json": "system"} | {
    f"/api/v1/{name}": name for name in FUNCTIONS
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# (operation label, failure title, status code) -> why it is excluded for now. None: every finding of
# the first runs (undocumented 400/401/415/422 answers) was fixed in the app's route declarations.
KNOWN_FINDINGS: dict[tuple[str, str, int], str] = {}


def function_of(path: str) -> str:
    if path in BARE_RESOURCES:
        return BARE_RESOURCES[path]
    name = path.removeprefix("/api/v1/").split("/", 1)[0]
    assert name in FUNCTIONS, path
    return name


@dataclass
class Finding:
    operation: str
    title: str
    status: int
    request: str
    response: str
    message: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.operation, self.title, self.status)

    def __str__(self) -> str:
        return (
            f"{self.operation}: {self.title} (status {self.status})\n  request: {self.request}\n"
            f"  response: {self.response}\n  {self.message.strip()[:600]}"
        )


class Gateway:
    """Sends prepared HTTP requests to the owning function's handler as API Gateway would."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def handler(self, name: str) -> Any:
        if name not in self.handlers:
            self.handlers[name] = load_handler(f"functions/{name}")
        return self.handlers[name]

    def send(self, prepared: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        # A REST API passes the path still percent-encoded, and the path parameters decoded.
        url = urlsplit(prepared.url or "")
        path = url.path
        name = function_of(path)
        if path in BARE_RESOURCES:
            resource, params = path, None
        else:
            base = f"/api/v1/{name}"
            resource, params = f"{base}/{{proxy+}}", {"proxy": unquote(path.removeprefix(base + "/"))}
        headers = [("Host", "api.test")] + [
            (key, value) for key, value in prepared.headers.items() if key.lower() not in {"host", "content-length"}
        ]
        body = prepared.body.encode("utf-8") if isinstance(prepared.body, str) else prepared.body
        event = rest_event(
            str(prepared.method),
            path,
            resource=resource,
            path_parameters=params,
            headers=headers,
            query=parse_qsl(url.query, keep_blank_values=True),
            body=body,
        )
        response = self.handler(name)(event, LambdaContext(name))
        return response["statusCode"], response_headers(response), response_body(response)


def strategy(operation: Any) -> st.SearchStrategy[Any]:
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


def describe_request(prepared: requests.PreparedRequest) -> str:
    body = prepared.body.decode("utf-8", "replace") if isinstance(prepared.body, bytes) else prepared.body
    value = prepared.headers.get("Authorization")
    auth = "no Authorization" if value is None else f"Authorization: {value[:24]}..."
    text = f"{prepared.method} {prepared.url} ({auth}; {prepared.headers.get('Content-Type')}) body={body!r}"
    return text[:600]


ADMIN_PASSWORD = "fuzz-admin-password"
REAL_LOGIN_EXTRAS = {"tenant_id": "default", "grant_type": "password"}


class Identities:
    """An admin of tenant `default`, in the auth table, and live sessions of it on demand."""

    def __init__(self, table: str) -> None:
        from alphapulse.auth.logic import accounts
        from alphapulse.auth.wiring import stores_of

        self.stores = stores_of(table)
        accounts.create_user(self.stores, username="admin", tenant_id="default", role="admin", password=ADMIN_PASSWORD)

    def session(self) -> tuple[str, str]:
        """A fresh session of the admin: (access token, refresh token)."""
        session_id, now = uuid.uuid4().hex, int(time.time())
        claims = {"username": "admin", "tenant_id": "default", "role": "admin", "session_id": session_id}
        access = issue_token(typ="access", now=now, **claims)[0]
        refresh, refresh_claims = issue_token(typ="refresh", now=now, **claims)
        self.stores.sessions.start(
            session_id,
            username="admin",
            tenant_id="default",
            jti=str(refresh_claims["jti"]),
            now=now,
            expires_at=now + 3600,
        )
        return access, refresh


@pytest.fixture
def identities(aws: dict[str, str]) -> Identities:
    return Identities(aws["AuthTable"])


class Seeder:
    """Fresh alerts and alert rules of tenant `default`, so that by-id routes also reach real items."""

    def __init__(self, gateway: Gateway, table: str, token: str) -> None:
        self.gateway, self.table, self.token = gateway, table, token

    def alert(self) -> str:
        from alphapulse.alerts.logic import lifecycle as logic
        from alphapulse.alerts.models import AlertEvent
        from alphapulse.alerts.repositories.alerts import AlertRepository

        now = datetime.now(UTC)
        event = {
            "message": "Leverage is 1.72x",
            "severity": "error",
            "source": "fuzz",
            "status": "firing",
            "timestamp": now.isoformat(),
            "dedup_key": uuid.uuid4().hex,
        }
        result = logic.fire(AlertRepository(self.table), AlertEvent.model_validate(event), now=now)
        assert result.alert is not None
        return result.alert.alert_id

    def rule(self) -> str:
        body = {"name": "r", "metric_name": "drawdown", "condition": "> 0.1", "severity": "info"}
        body["message_template"] = "Drawdown is {value}"
        prepared = requests.Request(
            "POST", f"{BASE_URL}/api/v1/alerts/rules", json=body, headers={"Authorization": f"Bearer {self.token}"}
        ).prepare()
        status, _, content = self.gateway.send(prepared)
        assert status == 201, content
        return str(json.loads(content)["rule_id"])


NOISE_QUERY = st.lists(
    st.tuples(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map("x_".__add__), st.text(max_size=16)),
    max_size=3,
)


def has_inputs(operation: Any) -> bool:
    spec = OPENAPI["paths"][operation.path][operation.method.lower()]
    return bool(spec.get("parameters") or spec.get("requestBody"))


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_operation_conforms_to_openapi(operation: Any, identities: Identities, aws: dict[str, str]) -> None:
    data_table = aws["DataTable"]
    gateway = Gateway()
    findings: dict[tuple[str, str, int], Finding] = {}
    count = 0
    secured = bool(OPENAPI["paths"][operation.path][operation.method.lower()].get("security"))
    # The auth function checks the session too (and logout ends it): a live session per request there.
    per_request_session = function_of(operation.path) == "auth"
    shared_token = identities.session()[0]
    inputs = has_inputs(operation)
    seeder = Seeder(gateway, data_table, shared_token)

    def record(prepared: requests.PreparedRequest, title: str, status: int, reply: str, message: str) -> None:
        finding = Finding(operation.label, title, status, describe_request(prepared), reply, message)
        findings.setdefault(finding.key, finding)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy(operation), data=st.data())
    def fuzz(case: Any, data: st.DataObject) -> None:
        nonlocal count
        count += 1
        access, refresh = identities.session() if per_request_session else (shared_token, "")
        body = case.body
        # Valid credentials now and then, so that the success responses get checked too.
        if (
            operation.label == "POST /api/v1/auth/refresh"
            and isinstance(body, dict)
            and "refresh_token" in body
            and data.draw(st.booleans(), label="real refresh token")
        ):
            body["refresh_token"] = refresh or identities.session()[1]
        if (
            operation.label == "POST /api/v1/auth/token"
            and isinstance(body, dict)
            and "username" in body
            and data.draw(st.booleans(), label="real credentials")
        ):
            body.update(username="admin", password=ADMIN_PASSWORD)
            body.update({key: value for key, value in REAL_LOGIN_EXTRAS.items() if key in body})
        positive = case.meta is None or case.meta.generation.mode.is_positive
        if positive and data.draw(st.booleans(), label="real item"):
            # Every other schema-conforming request names a real item and carries a rule the app accepts
            # (the condition and message_template grammar is not expressed in the schema).
            params = case.path_parameters or {}
            if "alert_id" in params:
                params["alert_id"] = seeder.alert()
            if "rule_id" in params:
                params["rule_id"] = seeder.rule()
            if isinstance(body, dict) and {"condition", "message_template"} <= body.keys():
                operator = data.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), label="operator")
                number = data.draw(st.floats(-1e9, 1e9, allow_nan=False), label="threshold")
                body.update(condition=f"{operator} {number}", message_template="Value is {value}")
        kwargs = case.as_transport_kwargs(base_url=BASE_URL)
        kwargs.pop("cookies", None)
        headers = kwargs.setdefault("headers", {})
        if secured:
            # Schemathesis makes up a bearer token for the security scheme: keep one in four of those,
            # so that the 401 answers get checked, and send a real token otherwise.
            generated = [key for key in headers if key.lower() == "authorization"]
            if not generated or data.draw(st.integers(0, 3), label="real token") != 3:
                for key in generated:
                    del headers[key]
                headers["Authorization"] = f"Bearer {access}"
        if not inputs:
            # Nothing documented to vary: unknown query parameters must be ignored.
            kwargs["params"] = data.draw(NOISE_QUERY, label="unknown query parameters")
        prepared = requests.Request(**kwargs).prepare()
        try:
            status, header_list, content = gateway.send(prepared)
        except Exception as exc:  # an exception out of the handler is a 5xx
            record(prepared, "Handler raised", 500, "-", repr(exc))
            return
        grouped: dict[str, list[str]] = {}
        for key, value in header_list:
            grouped.setdefault(key.lower(), []).append(value)
        response = Response(
            status_code=status, headers=grouped, content=content, request=prepared, elapsed=0.0, verify=True
        )
        reply = f"{status} {content[:300].decode('utf-8', 'replace')}"
        if status >= 500:
            record(prepared, "Server error", status, reply, "")
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                record(prepared, failure.title, status, reply, failure.message)
        except Failure as failure:
            record(prepared, failure.title, status, reply, failure.message)

    fuzz()
    assert count >= EXAMPLES, f"only {count} examples generated for {operation.label}"
    unexpected = [finding for key, finding in findings.items() if key not in KNOWN_FINDINGS]
    assert not unexpected, "\n\n".join(str(finding) for finding in unexpected)

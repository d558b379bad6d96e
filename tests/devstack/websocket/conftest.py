"""A local WebSocket gateway over a fixture template, its functions run in this process and recorded."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from websockets.sync.client import ClientConnection, connect

from devstack.gateways.websocket import WebSocketGateway, websocket_apis
from devstack.runtime.handlers import LambdaContext, load_handler
from devstack.runtime.worker import FunctionError
from devstack.template.functions import functions_of
from devstack.template.load import ROOT
from devstack.template.resolve import LocalResolver, read_template

FIXTURES = Path(__file__).resolve().parent / "fixtures"
Event = dict[str, Any]


class RecordedFunctions:
    """Invokes the template's functions in-process, as the gateway's `invoke`, and records every event."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.functions = functions_of(template, LocalResolver(template, {}))
        for function in self.functions.values():  # Lambda puts the function's code on sys.path
            if str(ROOT / function.code_uri) not in sys.path:
                sys.path.insert(0, str(ROOT / function.code_uri))
        self.events: list[tuple[str, Event]] = []
        self._recorded = threading.Condition()

    def invoke(self, logical_id: str, event: Event) -> Any:
        with self._recorded:
            self.events.append((logical_id, event))
            self._recorded.notify_all()
        function = self.functions[logical_id]
        try:
            return load_handler(function.code_uri, function.handler)(event, LambdaContext(logical_id))
        except Exception as exc:  # as devstack.runtime.worker reports a function that raised
            raise FunctionError({"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": []}) from exc

    def find(self, predicate: Callable[[str, Event], bool]) -> list[tuple[str, Event]]:
        with self._recorded:
            return [(f, e) for f, e in self.events if predicate(f, e)]

    def wait_for(self, predicate: Callable[[str, Event], bool], timeout: float = 5.0) -> tuple[str, Event]:
        """The first recorded invocation that matches, waiting for it to happen."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while True:
                found = [(f, e) for f, e in self.events if predicate(f, e)]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the expected invocation did not happen")
                self._recorded.wait(remaining)

    def of(self, connection_id: str, route_key: str, timeout: float = 5.0) -> Event:
        """The first event of one route for one connection."""
        return self.wait_for(
            lambda _, e: (
                e["requestContext"]["connectionId"] == connection_id and e["requestContext"]["routeKey"] == route_key
            ),
            timeout,
        )[1]


class Gateway:
    """A started gateway, its recorded functions, and helpers to reach it."""

    def __init__(self, gateway: WebSocketGateway, functions: RecordedFunctions) -> None:
        self.gateway, self.functions = gateway, functions
        self.url = f"ws://127.0.0.1:{gateway.port}"
        self.endpoint = f"http://127.0.0.1:{gateway.port}"

    @contextmanager
    def client(self, path: str = "", **query: str) -> Iterator[tuple[ClientConnection, str]]:
        """A connected client and its connection id (found through a unique `tag` in its $connect event)."""
        tag = uuid.uuid4().hex
        with connect(f"{self.url}{path}?{urlencode({**query, 'tag': tag})}", open_timeout=5) as websocket:
            yield websocket, self.connection_id(tag)

    def connection_id(self, tag: str) -> str:
        _, event = self.functions.wait_for(
            lambda _, e: (
                e["requestContext"]["routeKey"] == "$connect"
                and (e.get("queryStringParameters") or {}).get("tag") == tag
            )
        )
        connection_id: str = event["requestContext"]["connectionId"]
        return connection_id

    def management(self, suffix: str = "", *, access_key: str = "local", secret_key: str = "local") -> Any:
        return boto3.client("apigatewaymanagementapi", endpoint_url=self.endpoint + suffix, region_name="us-east-1",
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key)  # fmt: skip


@contextmanager
def serve(template_name: str, **options: Any) -> Iterator[Gateway]:
    template = read_template(FIXTURES / template_name)[0]
    functions = RecordedFunctions(template)
    (api,) = websocket_apis(template, LocalResolver(template, {})).values()
    gateway = WebSocketGateway(api, functions.invoke, port=0, **options).start()
    try:
        yield Gateway(gateway, functions)
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def echo_api() -> Iterator[Gateway]:
    """The API of fixtures/ws_app.yaml (stage `local`), with AWS's timeouts."""
    with serve("ws_app.yaml") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def guarded_api() -> Iterator[Gateway]:
    """The API of fixtures/ws_auth.yaml (stage `dev`, an authorizer, no $default)."""
    with serve("ws_auth.yaml") as gateway:
        yield gateway

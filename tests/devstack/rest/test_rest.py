"""The local stack's REST server on a fixture template: API Gateway REST proxy events in, responses out."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.ports import free_port
from devstack.run import LocalStack

TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(http_port=free_port(), aws_port=free_port(), ws_port=free_port(),
                       jwt_secret=secrets.token_urlsafe(48), template=TEMPLATE)  # fmt: skip
    local.start_aws()
    try:
        local.start_functions(local.provision())
        local.serve_http()
        yield local
    finally:
        local.stop()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.http_port}", timeout=20) as client:
        yield client


def echoed(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    seen: dict[str, Any] = reply.json()
    return seen


def test_request_becomes_a_rest_proxy_event(api: httpx.Client) -> None:
    reply = api.get("/items/42?tag=a&tag=b&one=1", headers={"X-Trace": "t1", "Cookie": "c=1"})
    event = echoed(reply)["event"]
    assert (event["httpMethod"], event["path"], event["resource"]) == ("GET", "/items/42", "/items/{item_id}")
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "one": "1"}  # API Gateway keeps the last value
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "one": ["1"]}
    assert event["headers"]["X-Trace"] == "t1" and event["multiValueHeaders"]["X-Trace"] == ["t1"]
    context = event["requestContext"]
    assert context["stage"] == "test" and context["resourcePath"] == "/items/{item_id}"  # its StageName
    assert context["httpMethod"] == "GET" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] and event["body"] is None and event["isBase64Encoded"] is False


def test_every_request_gets_its_own_request_id(api: httpx.Client) -> None:
    ids = {echoed(api.get("/items/1"))["event"]["requestContext"]["requestId"] for _ in range(3)}
    assert len(ids) == 3


def test_greedy_path_and_text_body(api: httpx.Client) -> None:
    event = echoed(api.post("/files/a/b/c.txt", content=b'{"x": 1}'))["event"]
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"x": 1}', False)


def test_binary_body_arrives_base64_encoded(api: httpx.Client) -> None:
    payload = bytes(range(256))
    event = echoed(api.post("/files/blob", content=payload))["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_base64_response_is_decoded(api: httpx.Client) -> None:
    reply = api.get("/items/binary")
    assert reply.content == bytes(range(256))
    assert reply.headers["content-type"] == "application/octet-stream"


def test_status_and_multi_value_headers_are_mapped(api: httpx.Client) -> None:
    reply = api.put("/items/cookies")
    assert reply.status_code == 201
    assert reply.headers["x-one"] == "1"
    assert reply.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_function_gets_the_template_environment(api: httpx.Client) -> None:
    seen = echoed(api.get("/items/env"))
    assert (seen["greeting"], seen["table"], seen["function"]) == ("hello", "Table", "EchoFunction")


def test_function_error_is_a_502_and_the_next_request_works(api: httpx.Client) -> None:
    reply = api.get("/items/crash")
    assert (reply.status_code, reply.json()) == (502, {"message": "Internal server error"})
    assert echoed(api.get("/items/7"))["event"]["pathParameters"] == {"item_id": "7"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("GET", "/files/x"), ("GET", "/items"), ("TRACE", "/items/7"), ("PROPFIND", "/items/7")],
)
def test_unknown_route_or_method_answers_like_api_gateway(api: httpx.Client, method: str, path: str) -> None:
    reply = api.request(method, path)
    assert (reply.status_code, reply.json()) == (403, {"message": "Missing Authentication Token"})


def test_outputs_are_resolved_to_local_values(stack: LocalStack, api: httpx.Client) -> None:
    assert api.get("/_local/outputs").json() == {"ApiUrl": f"http://127.0.0.1:{stack.http_port}", "TableName": "Table"}

"""`python -m devstack run --template PATH` runs SAM applications other than ours, written as public samples
are: the template is expanded by SAM's translator, then resolved with its parameters and conditions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack("--template", str(APPS / "classic" / "template.yaml"), "--parameter-overrides",
                        "TablePrefix=shop", logs=tmp_path_factory.mktemp("classic"))  # fmt: skip
    yield stack
    stop_stack(stack)


def aws(stack: RunningStack, kind: str, service: str) -> Any:
    """A boto3 client or resource on the stack's AWS endpoint, with the local stack's credentials."""
    import boto3

    return getattr(boto3, kind)(service, endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                                aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip


def table_names(stack: RunningStack) -> list[str]:
    names: list[str] = aws(stack, "client", "dynamodb").list_tables()["TableNames"]
    return names


def test_globals_codeuri_and_handler_and_the_parameters_table_name(classic: RunningStack) -> None:
    assert httpx.put(f"{classic.base_url}/items/7", content=b"seven", timeout=30).status_code == 204
    reply = httpx.get(f"{classic.base_url}/items/7", timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["item"] == {"id": "7", "body": "seven"}
    tables = table_names(classic)
    assert "shop-items" in tables
    assert reply.json()["environment"]["TABLE_NAME"] == "shop-items"


def test_conditions_and_select_split_join_findinmap(classic: RunningStack) -> None:
    httpx.put(f"{classic.base_url}/items/env", content=b"", timeout=30)
    environment = httpx.get(f"{classic.base_url}/items/env", timeout=30).json()["environment"]
    assert environment == {
        "TABLE_NAME": "shop-items",
        "SECOND_ORIGIN": "https://b.example",
        "FIRST_HOST": "a.example",
        "MODE": "not-test-yet",
        "NOT_PROD": "yes",
        "PAGE_SIZE": "10",
        "API_URL": classic.base_url,  # an API's execute-api URL, built with Fn::Join, is the local server's
    }
    tables = table_names(classic)
    assert "shop-audit" not in tables  # Condition: IsProd
    assert classic.outputs == {"ItemsApi": f"{classic.base_url}/items", "Table": "shop-items"}


def test_a_parameter_without_a_value_is_named_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "devstack", "run", "--template",
                             str(APPS / "classic" / "template.yaml")], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    said = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert said == "parameter TablePrefix has no default: pass --parameter-overrides TablePrefix=VALUE", said


def test_a_template_sam_refuses_is_named_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    function = {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": ".", "Runtime": "python3.13"}}
    broken.write_text(json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": function}}))
    result = subprocess.run([sys.executable, "-m", "devstack", "run", "--template", str(broken)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 2 and len(said.splitlines()) == 1, said
    assert "SAM cannot expand the template" in said and "Handler" in said, said


def test_a_websocketapi_app_replies_through_the_https_endpoint_it_builds_from_the_event(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    stack = start_stack("--template", str(APPS / "chat" / "template.yaml"), logs=tmp_path)
    try:
        url = stack.outputs["WebSocketURI"]
        assert url.startswith("ws://127.0.0.1:"), url
        with connect(url, open_timeout=20) as alice, connect(url, open_timeout=20) as bob:
            alice.send(json.dumps({"action": "sendmessage", "data": "hello from alice"}))
            assert alice.recv(timeout=20) == "hello from alice"
            assert bob.recv(timeout=20) == "hello from alice"
        assert "chat-connections" in table_names(stack)
    finally:
        stop_stack(stack)


def test_a_function_invokes_another_synchronously_and_asynchronously_through_the_lambda_api(tmp_path: Path) -> None:

    stack = start_stack("--template", str(APPS / "invoker" / "template.yaml"), "--stack-name", "shop", logs=tmp_path)
    try:
        reply = httpx.post(f"{stack.base_url}/call/42", timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"sync": {"done": "42-sync", "by": "WorkerFunction"}, "sync_error": None,
                                "async_status": 202}  # fmt: skip
        failed = httpx.post(f"{stack.base_url}/call/43", content=b"fail", timeout=60).json()
        assert failed["sync_error"] == "Unhandled" and failed["sync"]["errorMessage"] == "asked to fail"
        table = aws(stack, "resource", "dynamodb").Table(stack.outputs["Table"])
        deadline = time.monotonic() + 20
        while table.get_item(Key={"id": "42-async"}).get("Item") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert table.get_item(Key={"id": "42-async"}).get("Item") == {"id": "42-async"}
        client = aws(stack, "client", "lambda")
        direct = client.invoke(FunctionName="shop-worker", Payload=b'{"id": "cli"}')  # its physical name
        assert json.loads(direct["Payload"].read()) == {"done": "cli", "by": "WorkerFunction"}
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="nobody", Payload=b"{}")
        broken = client.invoke(FunctionName="BrokenFunction", Payload=b"{}")  # it fails to import: only it fails
        assert broken["FunctionError"] == "Unhandled"
        assert json.loads(broken["Payload"].read())["errorType"] == "Runtime.ImportModuleError"
    finally:
        stop_stack(stack)


def test_inline_code_and_a_plain_lambda_function_from_a_relative_template_path(tmp_path: Path) -> None:

    relative = "tests/devstack/apps/inline/template.yaml"  # to the project
    stack = start_stack("--template", relative, logs=tmp_path)
    try:
        reply = httpx.get(f"{stack.base_url}/hello", params={"name": "sam"}, timeout=30)
        assert (reply.status_code, reply.json()) == (200, {"hello": "sam"})
        client = aws(stack, "client", "lambda")
        answer = client.invoke(FunctionName="plain-adder", Payload=json.dumps({"a": 2, "b": 3}))
        assert json.loads(answer["Payload"].read()) == {"sum": 5}
    finally:
        stop_stack(stack)

"""`python -m devstack run --template PATH` runs SAM applications other than ours, written as public samples
are: the template is expanded by SAM's translator, then resolved with its parameters and conditions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def classic() -> Iterator[RunningStack]:
    stack = start_stack("--template", str(APPS / "classic" / "template.yaml"), "--parameter-overrides",
                        "TablePrefix=shop")  # fmt: skip
    yield stack
    stop_stack(stack)


def table_names(stack: RunningStack) -> list[str]:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    names: list[str] = client.list_tables()["TableNames"]
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

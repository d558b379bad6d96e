"""`python -m devstack invoke <FunctionLogicalId> -e <event file>`, like `sam local invoke`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def invoke(function: str, event: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devstack", "invoke", function, "-e", event], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def response(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    printed: dict[str, object] = json.loads(result.stdout[result.stdout.index("{\n") :])
    return printed


def test_invoke_prints_the_function_response() -> None:
    printed = response(invoke("SystemFunction", "events/system-health.json"))
    assert printed["statusCode"] == 200
    assert json.loads(str(printed["body"])) == {"status": "ok"}


def test_invoke_logs_a_demo_user_in_as_the_readme_shows() -> None:
    printed = response(invoke("AuthFunction", "events/auth-token.json"))
    assert printed["statusCode"] == 200
    assert json.loads(str(printed["body"]))["token_type"] == "bearer"


@pytest.mark.parametrize(("function", "event", "message"), [
    ("NoSuchFunction", "events/system-health.json", "unknown function NoSuchFunction"),
    ("SystemFunction", "events/no-such-event.json", "cannot read the event file events/no-such-event.json"),
    ("SystemFunction", "README.md", "cannot read the event file README.md"),
])  # fmt: skip
def test_invoke_refuses_unknown_functions_and_files(function: str, event: str, message: str) -> None:
    result = invoke(function, event)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr

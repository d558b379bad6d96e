"""`python -m devstack` commands fail with one line that says what to do, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.ports import free_port
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["event", "TradeExecuted", '{"trade_id": "T-1"}'],
        ["alert", '{"title": "x"}'],
        ["events"],
        ["invoke", "AuthFunction", "-e", "events/no-such-event.json"],
    ],
)
def test_a_command_without_its_stack_or_input_fails_in_one_line(command: list[str]) -> None:
    env = {**os.environ, "HTTP_PORT": str(free_port()), "AWS_PORT": str(free_port())}  # nothing listens there
    result = subprocess.run([sys.executable, "-m", "devstack", *command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    said = (result.stdout + result.stderr).strip()
    assert result.returncode in (1, 2), said
    assert "Traceback" not in said and len(said.splitlines()) == 1, said
    assert "make run" in said or "cannot read the event file" in said, said

"""The page's own API and WebSocket clients (web/src/realtime/live.test.ts, run by Vitest in Node) against
`make run`'s stack with the demo feed on: sign in, go live, resume after a dropped socket with no gap, and move
to a fresh ticket before the server closes the socket at the token's expiry (a 70 s token here: just over
the page's 60 s refresh margin, web/src/api/client.ts)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
TOKEN_TTL = 70


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(logs=tmp_path_factory.mktemp("stack"), DEMO_FEED="1", ACCESS_TOKEN_TTL_SECONDS=str(TOKEN_TTL))
    yield running
    stop_stack(running)


def test_the_pages_realtime_client_resumes_and_renews_against_the_stack(stack: RunningStack) -> None:
    env = {**os.environ, "ALPHAPULSE_LIVE_URL": stack.base_url, "ALPHAPULSE_LIVE_TOKEN_TTL": str(TOKEN_TTL)}
    command = [sys.executable, "-m", "devstack.dashboard", "npm", "exec", "--", "vitest", "run",
               "src/realtime/live.test.ts"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "2 passed" in output, output[-4000:]  # neither case skipped

"""The README's commands are the ones that work: `make run`, then its shell blocks, verbatim.

Blocks marked `<!-- readme-test: NAME -->` run in one bash session (so `$TOKEN` carries over),
against `make run` started here on free ports; only the port numbers are rewritten.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from devstack.ports import free_port
from tests.conftest import ROOT, TEST_SECRET

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)```", re.S)


def readme_blocks() -> dict[str, str]:
    return {found["name"]: found["body"] for found in BLOCK.finditer(README)}


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    assert "make run" in README.split("```sh", 2)[1], "the README no longer starts with `make run`"
    ports = {"HTTP_PORT": str(free_port()), "WS_PORT": str(free_port()), "AWS_PORT": str(free_port())}
    # DEVSTACK_HOST as the sam-local block asks; the other blocks use 127.0.0.1 all the same.
    env = {**os.environ, **ports, "JWT_SECRET": TEST_SECRET, "DEMO_FEED": "1", "DEMO_FEED_INTERVAL": "1",
           "DEVSTACK_HOST": "0.0.0.0"}  # fmt: skip  # noqa: S104
    started = time.monotonic()
    log = tmp_path_factory.mktemp("make-run") / "output.log"
    with log.open("w") as output:
        process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, text=True, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        while time.monotonic() - started < 60:
            assert process.poll() is None, log.read_text()[-5000:]
            try:
                if httpx.get(f"http://127.0.0.1:{ports['HTTP_PORT']}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"make run did not answer /api/v1/health within 60 s: {log.read_text()[-5000:]}")
        yield ports
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def rewrite_ports(script: str, ports: dict[str, str]) -> str:
    """One pass, so that a new port (say 45665) is never read as a default (4566) again."""
    defaults = {"3000": ports["HTTP_PORT"], "3001": ports["WS_PORT"], "4566": ports["AWS_PORT"]}
    return re.sub(r"127\.0\.0\.1:(3000|3001|4566)\b", lambda found: f"127.0.0.1:{defaults[found[1]]}", script)


def test_rewrite_ports_never_rewrites_a_rewritten_port() -> None:
    script = "curl http://127.0.0.1:3000/x; wscat ws://127.0.0.1:3001; aws --endpoint http://127.0.0.1:4566"
    ports = {"HTTP_PORT": "30001", "WS_PORT": "45665", "AWS_PORT": "43675"}
    assert rewrite_ports(script, ports) == (
        "curl http://127.0.0.1:30001/x; wscat ws://127.0.0.1:45665; aws --endpoint http://127.0.0.1:43675"
    )


def test_readme_blocks_work_against_make_run(make_run: dict[str, str]) -> None:
    blocks = readme_blocks()
    assert set(blocks) >= {"rest", "websocket", "events"}, sorted(blocks)
    script = "\n".join(blocks[name] for name in ("rest", "websocket", "events"))
    script = rewrite_ports(script, make_run)
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env={**os.environ, **make_run},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    output = result.stdout
    assert result.returncode == 0, (output, result.stderr)
    assert '"username":"trader"' in output.replace(" ", ""), output
    assert '{"status":"ok"}' in output.replace(" ", ""), output
    assert "Connected to ws://" in output, output
    plain = re.sub(r"\x1b(\[[0-9;]*[A-Za-z]|[78])", "\n", output)  # the client's terminal codes
    received = [json.loads(found) for found in re.findall(r"^< (\{.*\})$", plain, re.M)]
    assert {"subscribed", "portfolio", "trade"} <= {message.get("type") for message in received}, plain
    assert '"trade_id":"MY-1"' in output.replace(" ", ""), output


def json_values(text: str) -> list[dict[str, object]]:
    """The JSON objects in `text` (which also holds what `sam build` printed)."""
    decoder, found, position = json.JSONDecoder(), [], text.find('{"')
    while position != -1:
        try:
            value, position = decoder.raw_decode(text, position)
            found.append(value)
        except ValueError:
            position += 1
        position = text.find('{"', position)
    return found


@pytest.mark.timeout(900)
def test_readme_sam_local_block_works_against_make_run(make_run: dict[str, str], sam_path: str) -> None:
    blocks = readme_blocks()
    assert "sam-local" in blocks, sorted(blocks)
    assert "DEVSTACK_HOST=0.0.0.0 make run" in README
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", rewrite_ports(blocks["sam-local"], make_run)],
                            cwd=ROOT, env={**os.environ, **make_run, "PATH": sam_path}, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    answers = json_values(result.stdout)  # SAM prints each answer with no newline after it
    assert len(answers) == 3, result.stdout
    login, trades, ingest = answers
    assert login["statusCode"] == 200 and "access_token" in json.loads(login["body"]), login
    assert trades["statusCode"] == 200 and json.loads(trades["body"])["items"], trades
    assert isinstance(ingest.get("pushed"), int), ingest

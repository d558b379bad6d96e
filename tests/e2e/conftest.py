"""The local stack, started as `make run` starts it, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.bytecode import runtime_python
from devstack.ports import free_port
from devstack.runtime import lambda_image
from devstack.template.load import TEMPLATE, load_template
from tests.conftest import ROOT, TEST_SECRET

SAM = ROOT / ".venv" / "tools" / "bin" / "sam"
ARCHITECTURE = lambda_image.host_architecture()


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    base_url: str
    aws_endpoint: str
    log: Path  # what the stack printed
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.outputs["WebSocketUrl"]


def start_stack(*args: str, logs: Path, **extra_env: str) -> RunningStack:
    """`python -m devstack run [args]` on free ports, the demo feed off unless `DEMO_FEED` is given, schedules
    every second. What it prints goes to `logs/local-stack.log` (a pytest temporary directory: pytest keeps the
    last three runs' and removes older ones), its sam-env.json beside it unless `DEVSTACK_SAM_ENV` is given."""
    http_port, aws_port, ws_port = free_port(), free_port(), free_port()
    env = {**os.environ, "HTTP_PORT": str(http_port), "AWS_PORT": str(aws_port), "WS_PORT": str(ws_port),
           "JWT_SECRET": TEST_SECRET, "DEMO_FEED": "0", "DEVSTACK_RETRY_DELAYS": "0.2,0.2",
           "DEVSTACK_SCHEDULE_SECONDS": "1", **extra_env}  # fmt: skip
    env.setdefault("DEVSTACK_SAM_ENV", str(logs / "sam-env.json"))  # not the repo's own
    log = logs / "local-stack.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run", *args], cwd=ROOT, env=env, text=True,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited: {log.read_text()[-5000:]}")
        try:
            reply = httpx.get(f"{base_url}/_local/outputs", timeout=1)
            if reply.status_code == 200:
                return RunningStack(process, base_url, f"http://127.0.0.1:{aws_port}", log, reply.json())
        except httpx.TransportError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"local stack did not answer within 60 s: {log.read_text()[-5000:]}")


def stop_stack(stack: RunningStack) -> int:
    """Ctrl-C, as a person would; returns the exit code."""
    stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=20)
    finally:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(logs=tmp_path_factory.mktemp("local-stack"))
    yield stack
    stop_stack(stack)


# --- the real SAM CLI (needs Docker) ---


def docker_unavailable() -> str | None:
    """Why `sam local invoke` cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return f"no Docker engine reachable: {info.stderr.strip().splitlines()[-1:]}"
    return None


def require(reason: str | None) -> None:
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the SAM CLI tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sam_path() -> str:
    """PATH for the SAM CLI: a Docker engine, the Lambda Python image of the template's runtime (where the
    official one cannot be pulled, as here, `python -m devstack lambda-image` builds a stand-in of its tag),
    and that runtime's interpreter, which `sam build` wants."""
    require(docker_unavailable())
    runtime = load_template(TEMPLATE)["Globals"]["Function"]["Runtime"]
    python = runtime_python(runtime)
    require(None if python else f"no {runtime} interpreter for `sam build` (on PATH or under ~/.pyenv)")
    assert python is not None
    image = lambda_image.tag(runtime, ARCHITECTURE)
    if not lambda_image.exists(image):
        pulled = subprocess.run(["docker", "pull", image], capture_output=True, timeout=300)
        if pulled.returncode != 0:  # no registry: the stand-in
            lambda_image.build(runtime, ARCHITECTURE)
    return f"{python.parent}{os.pathsep}{os.environ['PATH']}"

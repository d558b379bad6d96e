"""`.devstack/sam-env.json`: the `--env-vars` file that points `sam local invoke` at the running local stack.

Every function gets its template variables as the local stack resolved them (tables, queues, the secret's
ARN, the WebSocket endpoint), with this machine's loopback address replaced by one that a container
reaches: the Docker bridge's gateway on Linux, `host.docker.internal` on Docker Desktop
(`DEVSTACK_CONTAINER_HOST` overrides it). SAM only overrides variables that the template declares,
which is why the template declares `AWS_ENDPOINT_URL` (empty in AWS).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devstack.run import LocalStack

FILE = Path(".devstack", "sam-env.json")  # beside the template; DEVSTACK_SAM_ENV names another path
DOCKER_BRIDGE_GATEWAY = "172.17.0.1"  # Docker's default on Linux, when `docker network inspect` cannot tell


def container_host() -> str:
    """The address of this machine as a Lambda container sees it."""
    explicit = os.environ.get("DEVSTACK_CONTAINER_HOST")
    if explicit:
        return explicit
    if platform.system() != "Linux":
        return "host.docker.internal"
    if shutil.which("docker"):
        try:
            inspected = subprocess.run(["docker", "network", "inspect", "bridge", "--format",
                                        "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
                                       capture_output=True, text=True, timeout=5)  # fmt: skip
            if inspected.returncode == 0 and inspected.stdout.strip():
                return inspected.stdout.strip()
        except subprocess.TimeoutExpired:
            pass
    return DOCKER_BRIDGE_GATEWAY


def variables(stack: LocalStack, host: str) -> dict[str, dict[str, str]]:
    """Function logical id -> the variables `sam local invoke` should give it."""
    local, seen = f"://{stack.host}:", f"://{host}:"
    files: dict[str, dict[str, str]] = {}
    for logical_id, function in stack.functions.items():
        environment = {**function.environment, "APP_ENV": "local",
                       "AWS_ENDPOINT_URL": f"http://{stack.host}:{stack.aws_port}"}  # fmt: skip
        declared = {name: value for name, value in stack.settings.function_environment.items() if name in environment}
        files[logical_id] = {name: value.replace(local, seen) for name, value in {**environment, **declared}.items()}
    return files


def write(stack: LocalStack) -> Path:
    """Write the file; returns its path."""
    path = Path(os.environ.get("DEVSTACK_SAM_ENV") or stack.code_root / FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(variables(stack, container_host()), indent=2, sort_keys=True) + "\n")
    return path

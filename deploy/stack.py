"""The stack: `sam build` (then its bytecode, deploy.bytecode) and `sam deploy` (subprocesses), its outputs and
parameters (CloudFormation), and the CorsOrigins parameter with the dashboard's origin in it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploy.bytecode import compile_command
from deploy.errors import DeployError
from deploy.samconfig import format_overrides

CORS_ORIGINS = "CorsOrigins"
# A stack whose first change set was never executed (a declined `confirm_changeset`) has no resources yet.
NOT_DEPLOYED = {"REVIEW_IN_PROGRESS"}
BUILD_DIR = Path(".aws-sam", "build")  # sam's default, under the project

Runner = Callable[[list[str], Path], int]


@dataclass(frozen=True)
class Stack:
    """A deployed stack's outputs and parameter values."""

    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def output(self, key: str) -> str:
        """One output's value; DeployError when the stack has none (it predates this checkout's template)."""
        if not self.outputs.get(key):
            raise DeployError(f"stack {self.name} has no output {key}: is it deployed from this template?")
        return self.outputs[key]


def describe_stack(cloudformation: Any, name: str) -> Stack | None:
    """The stack `name`, or None when it does not exist (yet)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        # CloudFormation has no error code of its own for it: a missing stack is a ValidationError "... does not exist".
        if exc.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(exc):
            return None
        raise DeployError(f"cannot read stack {name}: {exc}") from exc
    if not stacks or stacks[0]["StackStatus"] in NOT_DEPLOYED:
        return None
    stack = stacks[0]
    return Stack(
        name=name,
        outputs={item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])},
        parameters={item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])},
    )


def origins_of(cors_origins: str) -> list[str]:
    """The origins of a CorsOrigins value (comma-separated), without blanks."""
    return [origin.strip() for origin in cors_origins.split(",") if origin.strip()]


def has_origin(cors_origins: str, origin: str) -> bool:
    """Whether CorsOrigins allows `origin` (a trailing slash makes no difference: browsers send none)."""
    return origin.rstrip("/") in {item.rstrip("/") for item in origins_of(cors_origins)}


def with_origin(cors_origins: str, origin: str) -> str:
    """CorsOrigins with `origin` added at the end, unless it is there already; the others keep their order."""
    origins = origins_of(cors_origins)
    if not has_origin(cors_origins, origin):
        origins.append(origin.rstrip("/"))
    return ",".join(origins)


def _run(args: list[str], cwd: Path) -> int:
    # The terminal stays sam's: it prints the change set, and a prod deploy asks to confirm it.
    return subprocess.run(args, cwd=cwd, check=False).returncode


class Sam:
    """`sam build` and `sam deploy --config-env` in the project directory; `python` is the Lambda runtime's
    interpreter, which compiles the build; `run` is replaceable for tests."""

    def __init__(self, executable: str, project: Path, python: str | Path, run: Runner = _run) -> None:
        self.executable, self.project, self.python, self._run = executable, project, python, run

    def build(self, environment: str) -> None:
        """`sam build`, then the build's bytecode (deploy.bytecode)."""
        self._call(["build", "--config-env", environment])
        if self._run(compile_command(self.python, self.project / BUILD_DIR), self.project) != 0:
            raise DeployError(f"compiling {BUILD_DIR} with {self.python} failed")

    def deploy(self, environment: str, overrides: Mapping[str, str] | None = None) -> None:
        """Deploy with samconfig's settings; `overrides`, when given, replace its parameter_overrides (sam's rule:
        the command line wins), and parameters named in neither keep their current values."""
        args = ["deploy", "--config-env", environment, "--no-fail-on-empty-changeset"]
        if overrides:
            args += ["--parameter-overrides", format_overrides(overrides)]
        self._call(args)

    def _call(self, args: list[str]) -> None:
        command = [self.executable, *args]
        code = self._run(command, self.project)
        if code != 0:
            raise DeployError(f"`sam {' '.join(args[:3])}` failed (exit {code})")

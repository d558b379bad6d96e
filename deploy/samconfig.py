"""The environments of samconfig.toml, read as `sam deploy --config-env NAME` reads them."""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.errors import DeployError


@dataclass(frozen=True)
class Environment:
    """One `[NAME.*.parameters]` environment: where its stack is, and the overrides `sam deploy` passes."""

    name: str
    stack_name: str
    region: str
    profile: str | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)


def read_environment(path: Path, name: str) -> Environment:
    """The environment `name` of samconfig.toml; its deploy parameters take precedence over its global ones."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    if not isinstance(config.get(name), dict):
        known = ", ".join(key for key, value in config.items() if isinstance(value, dict))
        raise DeployError(f"{path.name} has no environment {name!r} (it has {known})")
    sections = config[name]
    parameters = {
        **sections.get("global", {}).get("parameters", {}),
        **sections.get("deploy", {}).get("parameters", {}),
    }
    missing = [key for key in ("stack_name", "region") if not parameters.get(key)]
    if missing:
        raise DeployError(f"{path.name}: environment {name!r} sets no {' and no '.join(missing)}")
    overrides = parameters.get("parameter_overrides", "")
    if isinstance(overrides, list):  # sam also takes a list of "Key=Value" strings
        overrides = " ".join(overrides)
    return Environment(
        name=name,
        stack_name=parameters["stack_name"],
        region=parameters["region"],
        profile=parameters.get("profile"),
        parameter_overrides=parse_overrides(overrides),
    )


def parse_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2="a value"` (samconfig's parameter_overrides) as a dict."""
    pairs = {}
    for item in shlex.split(text):
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise DeployError(f"parameter_overrides: {item!r} is not Key=Value")
        pairs[key] = value
    return pairs


def format_overrides(overrides: Mapping[str, str]) -> str:
    """The argument of `sam deploy --parameter-overrides`: every value double-quoted, as sam unquotes it."""
    for key, value in overrides.items():
        if any(char in value for char in '"\\'):
            raise DeployError(f"parameter {key}: a value with quotes or backslashes cannot be passed to sam")
    return " ".join(f'{key}="{value}"' for key, value in overrides.items())

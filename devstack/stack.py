"""The local stack's model of template.yaml: local names, function environments and REST routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from devstack.template import resources_of_type

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STAGE = "local"


# An API's URL as templates write it: https://{api}.execute-api.{region}.{suffix}/{stage}, the region and
# suffix literal or as pseudo parameters, the stage literal or a ${Parameter}. Locally every API is served at
# the root of its own port, so the stage goes.
API_URL = re.compile(
    r"(?P<scheme>https|wss)://\$\{(?P<api>\w+)\}\.execute-api\.(?:\$\{AWS::Region\}|[\w-]+)"
    r"\.(?:\$\{AWS::URLSuffix\}|amazonaws\.com)(?:/(?:\$\{\w+\}|[\w-]+))?"
)


HTTP_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})  # what ANY stands for


@dataclass(frozen=True)
class Route:
    """One API event of a function: method (or ANY) and a path template like /api/v1/auth/{proxy+}."""

    function: str
    method: str
    path: str
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method and not (self.method == "ANY" and method in HTTP_METHODS):
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def route_pattern(path: str) -> re.Pattern[str]:
    """A regex for an API Gateway path template ({name} is one segment, {name+} the rest)."""
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)


@dataclass
class Function:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, str]
    routes: list[Route] = field(default_factory=list)
    timeout: int = 3  # seconds, Lambda's default


class LocalResolver:
    """Resolves intrinsics to local values: parameters to defaults, resources to local names."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str]) -> None:
        self.template = template
        self.values: dict[str, str] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID,
                                       "AWS::StackName": "alphapulse-local", "AWS::URLSuffix": "amazonaws.com",
                                       "AWS::Partition": "aws", "Stage": STAGE}  # fmt: skip
        for name, parameter in template.get("Parameters", {}).items():
            if "Default" in parameter:
                self.values.setdefault(name, str(parameter["Default"]))
        self.values.update(overrides)
        conditions = template.get("Conditions", {})
        self.conditions = {name: bool(self.resolve(expr)) for name, expr in conditions.items()}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((name, argument),) = value.items()
        if name == "Ref":
            return self.values.get(argument, argument)
        if name == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else argument
            text = API_URL.sub(self._local_api_url, text)
            lookup = {**self.values, **{k: str(self.resolve(v)) for k, v in extra.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: lookup.get(m.group(1), m.group(1)), text)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.conditions.get(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Fn::GetAtt":
            return self.values.get(".".join(argument), ".".join(argument))
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(str(p) for p in self.resolve(parts))
        return {name: self.resolve(argument)}

    def _local_api_url(self, found: re.Match[str]) -> str:
        """An API's AWS URL (https://{api}.execute-api..../{stage}) as its local base URL."""
        local = self.values.get(f"{found['api']}.LocalUrl")
        if local is None:
            return found.group(0)
        return local.replace("http://", "ws://", 1) if found["scheme"] == "wss" else local


def functions_of(template: dict[str, Any], resolver: LocalResolver) -> dict[str, Function]:
    """Every AWS::Serverless::Function with its merged, resolved environment and API routes."""
    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = globals_.get("Environment", {}).get("Variables", {})
    functions: dict[str, Function] = {}
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        variables = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        environment = {name: str(resolver.resolve(value)) for name, value in variables.items()}
        function = Function(logical_id, props["CodeUri"], props.get("Handler", "app.handler"), environment,
                            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))))  # fmt: skip
        for event in props.get("Events", {}).values():
            if event.get("Type") == "Api":
                path, method = event["Properties"]["Path"], event["Properties"]["Method"].upper()
                function.routes.append(Route(logical_id, method, path, route_pattern(path)))
        functions[logical_id] = function
    return functions

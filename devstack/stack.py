"""The local stack's model of template.yaml: local names, function environments and REST routes."""

from __future__ import annotations

import base64
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.expand import expand, local_code
from devstack.template import load_template, resources_of_type

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STAGE = "local"
DEFAULT_STACK_NAME = "alphapulse-local"
FUNCTION = "AWS::Lambda::Function"


# An API's URL, once its intrinsics are resolved: https://{api}.execute-api.{region}.amazonaws.com[/{stage}],
# where {api} is the logical id (what Ref gives locally). Locally every API is served at the root of its own
# port, so the stage goes.
API_URL = re.compile(r"(?P<scheme>https|wss)://(?P<api>\w+)\.execute-api\.[\w-]+\.amazonaws\.com(?:/[\w-]+)?")

HTTP_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})  # what ANY stands for


@dataclass(frozen=True)
class Route:
    """One API event of a function: method (or ANY) and a path template like /api/v1/auth/{proxy+}."""

    function: str
    method: str
    path: str
    pattern: re.Pattern[str]
    stage: str = STAGE  # the API's stage name, as events carry it

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
    code_uri: str  # relative to the template's folder, or absolute
    handler: str
    environment: dict[str, str]
    routes: list[Route] = field(default_factory=list)
    timeout: int = 3  # seconds, Lambda's default
    layers: list[str] = field(default_factory=list)  # what each layer puts on sys.path (/opt/python)


def parameter_values(template: dict[str, Any], overrides: Mapping[str, str], *,
                     stack_name: str = DEFAULT_STACK_NAME) -> dict[str, str]:  # fmt: skip
    """The pseudo parameters and every parameter's value (override, else default), as CloudFormation takes them;
    SystemExit naming a parameter that has no value, or a value it does not allow, or an unknown override."""
    values = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack_name,
              "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws"}  # fmt: skip
    parameters = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        raise SystemExit(f"--parameter-overrides: the template has no parameter {', '.join(unknown)}")
    for name, parameter in parameters.items():
        value = overrides.get(name, parameter.get("Default"))
        if value is None:
            raise SystemExit(f"parameter {name} has no default: pass --parameter-overrides {name}=VALUE")
        allowed = [str(choice) for choice in parameter.get("AllowedValues", [])]
        if allowed and str(value) not in allowed:
            raise SystemExit(f"parameter {name}={value} is not one of {', '.join(allowed)}")
        values[name] = str(value)
    return values


def read_template(path: Path, overrides: Mapping[str, str] | None = None, *,
                  stack_name: str = DEFAULT_STACK_NAME) -> tuple[dict[str, Any], dict[str, str]]:  # fmt: skip
    """The one way the local stack reads a template: as SAM's translator expands it, with its parameter values."""
    source = load_template(path)
    parameters = parameter_values(source, overrides or {}, stack_name=stack_name)
    template = expand(source, parameters)
    conditions = LocalResolver(template, parameters)
    for section in ("Resources", "Outputs"):  # what a false condition leaves out, CloudFormation does not create
        entries = template.get(section, {})
        template[section] = {name: entry for name, entry in entries.items()
                             if "Condition" not in entry or conditions.condition(entry["Condition"])}  # fmt: skip
    return template, parameters


class LocalResolver:
    """Resolves intrinsic functions and conditions to local values: parameters to their values, resources to
    their local names, an API's execute-api URL to the local server that serves it."""

    def __init__(self, template: dict[str, Any], overrides: Mapping[str, str]) -> None:
        self.template = template
        self.values: dict[str, str] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID,
                                       "AWS::StackName": DEFAULT_STACK_NAME, "AWS::URLSuffix": "amazonaws.com",
                                       "AWS::Partition": "aws"}  # fmt: skip
        for name, parameter in template.get("Parameters", {}).items():
            if "Default" in parameter:
                self.values.setdefault(name, str(parameter["Default"]))
        self.values.update(overrides)
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        """A named condition's value (conditions may use others)."""
        if name not in self.conditions:
            expression = self.template.get("Conditions", {}).get(name)
            if expression is None:
                raise ValueError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(expression))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((name, argument),) = value.items()
        if name == "Ref":
            if argument == "AWS::NoValue":
                return None
            value = self.values.get(argument, argument)
            kind = str(self.template.get("Parameters", {}).get(argument, {}).get("Type", ""))
            return value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else value
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else argument
            lookup = {**self.values, **{k: str(self.resolve(v)) for k, v in extra.items()}}
            return self._localise(re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), lookup), text))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._attribute(parts[0], str(self.resolve(parts[1])))
        if name == "Fn::Join":
            separator, parts = argument
            return self._localise(str(separator).join(str(p) for p in self.resolve(parts) if p is not None))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(self.resolve(items)[int(self.resolve(index))])
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        if name == "Fn::FindInMap":
            mapping, first, second = (self.resolve(part) for part in argument)
            return self.template["Mappings"][mapping][first][second]
        if name == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if name == "Fn::GetAZs":
            return [f"{self.values['AWS::Region']}{zone}" for zone in "abc"]
        return {name: self.resolve(argument)}

    def _sub(self, name: str, lookup: Mapping[str, str]) -> str:
        if name in lookup:
            return str(lookup[name])
        if "." in name:
            resource, attribute = name.split(".", 1)
            return str(self._attribute(resource, attribute))
        return name

    def _attribute(self, resource: str, attribute: str) -> Any:
        key = f"{resource}.{attribute}"
        if key not in self.values and attribute == "Arn" and self._type_of(resource) == FUNCTION:
            function_name = self.resolve({"Ref": resource})
            return f"arn:aws:lambda:{self.values['AWS::Region']}:{ACCOUNT_ID}:function:{function_name}"
        return self.values.get(key, key)

    def _type_of(self, logical_id: str) -> str:
        return str(self.template.get("Resources", {}).get(logical_id, {}).get("Type", ""))

    def _localise(self, text: str) -> str:
        """An API's AWS URL (https://{api}.execute-api.{region}.amazonaws.com[/{stage}]) as its local base URL."""

        def local(found: re.Match[str]) -> str:
            url = self.values.get(f"{found['api']}.LocalUrl")
            if url is None:
                return found.group(0)
            return url.replace("http://", "ws://", 1) if found["scheme"] == "wss" else url

        return API_URL.sub(local, text)


def functions_of(
    template: dict[str, Any], resolver: LocalResolver, inline_root: Path | None = None
) -> dict[str, Function]:
    """Every AWS::Lambda::Function of the expanded template, with its resolved environment, layers and the routes
    of the REST APIs that integrate it. Inline code (`ZipFile`) is written under `inline_root`."""
    layers = {logical_id: _layer_path(resource) for logical_id, resource
              in resources_of_type(template, "AWS::Lambda::LayerVersion").items()}  # fmt: skip
    functions: dict[str, Function] = {}
    for logical_id, resource in resources_of_type(template, "AWS::Lambda::Function").items():
        props = resource["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        environment = {name: str(resolver.resolve(value)) for name, value in variables.items()}
        code = local_code(props.get("Code"))
        if code is None and "ZipFile" in props.get("Code", {}):
            code = str(
                _write_inline((inline_root or Path(tempfile.mkdtemp(prefix="devstack-inline-"))) / logical_id, props)
            )
        if code is None:
            raise SystemExit(f"{logical_id}: its Code is neither a local path (CodeUri) nor inline (ZipFile)")
        own = [layers.get(str(resolver.resolve(layer)), "") for layer in props.get("Layers", [])]
        functions[logical_id] = Function(
            logical_id,
            code,
            props.get("Handler", "app.handler"),
            environment,
            timeout=int(props.get("Timeout", 3)),
            layers=[p for p in own if p],
        )
    stages = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    for api_id, api in resources_of_type(template, "AWS::ApiGateway::RestApi").items():
        names = [str(resolver.resolve(stage["Properties"].get("StageName", STAGE))) for stage in stages
                 if stage["Properties"].get("RestApiId") == {"Ref": api_id}]  # fmt: skip
        for path, methods in (api.get("Properties", {}).get("Body") or {}).get("paths", {}).items():
            for method, operation in methods.items():
                uri = str((operation.get("x-amazon-apigateway-integration") or {}).get("uri", ""))
                function = next((name for name in functions if f"${{{name}.Arn}}" in uri), None)
                if function is None:
                    continue  # a mock or HTTP integration: not served locally
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                functions[function].routes.append(Route(function, verb, path, route_pattern(path),
                                                        names[0] if names else STAGE))  # fmt: skip
    return functions


def _layer_path(resource: dict[str, Any]) -> str:
    """The folder a layer puts on sys.path: its content's python/ folder, or the content itself when SAM
    built it (BuildMethod python*: SAM copies ContentUri into python/)."""
    content = local_code(resource["Properties"].get("Content")) or ""
    built = str(resource.get("Metadata", {}).get("BuildMethod", "")).startswith("python")
    return content if built or not content else f"{content}/python"


def _write_inline(folder: Path, props: dict[str, Any]) -> Path:
    module = str(props.get("Handler", "index.handler")).rpartition(".")[0] or "index"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(str(props["Code"]["ZipFile"]))
    return folder

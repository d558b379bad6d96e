"""The functions of an expanded template: code, handler, environment, layers, and the REST routes that reach them."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.template.expand import local_code
from devstack.template.load import function_behind, references, resources_of_type
from devstack.template.resolve import STAGE, LocalResolver

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
                uri = (operation.get("x-amazon-apigateway-integration") or {}).get("uri")
                behind = (function_behind(template, name) for name in references(uri))
                function = next((name for name in behind if name in functions), None)
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

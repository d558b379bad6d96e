"""The merged OpenAPI document of every REST function of template.yaml.

Each `AWS::Serverless::Function` whose module has a FastAPI `app` contributes its `app.openapi()`
(paths already carry the full `/api/v1` prefix); paths and components are merged into one
OpenAPI 3 document. A path+method declared twice, or one component name with two different
definitions, is an error: the document must describe exactly one API.

    python -m devstack.openapi            print the document
    python -m devstack.openapi --write    write docs/openapi.json and the layer's copy (make openapi)
    python -m devstack.openapi --check    exit 1 when a committed copy differs from the code
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from devstack.runtime.handlers import load_module
from devstack.template.load import ROOT, load_template, resources_of_type

TITLE = "AlphaPulse dashboard API"
DESCRIPTION = (
    "The AlphaPulse dashboard backend: one document for every REST function. "
    "Authenticate with `POST /api/v1/auth/token` and send `Authorization: Bearer <access_token>` "
    "(on the docs page, `GET /api/v1/docs`: **Authorize**, then paste the access token).\n\n"
    "**Live pushes** come over the WebSocket API (the stack's `WebSocketUrl`; `ws://127.0.0.1:3001` under "
    "`make run`): connect with `?ticket=` from `POST /api/v1/auth/ws-ticket`, send "
    '`{"action":"subscribe","channels":["trades"],"since":{"trades":41}}`, and apply each push by its `seq`; '
    "`resync_required` means: reload that view from these routes. The protocol in full: `docs/websocket.md` "
    "in the repository."
)
OUTPUTS = (
    ROOT / "docs" / "openapi.json",
    ROOT / "layers" / "common" / "python" / "alphapulse" / "web" / "openapi.json",
)
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class OpenApiConflict(ValueError):
    """Two functions describe the same route, or the same component differently."""


def load_app(code_uri: str, handler: str = "app.handler") -> Any:
    """The `app` attribute of a function's handler module (loaded as `devstack.runtime.handlers` loads it)."""
    return getattr(load_module(code_uri, handler.rpartition(".")[0]), "app", None)


def function_apps(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Logical id -> FastAPI app, for every zip function of the template whose module defines one."""
    template = template if template is not None else load_template()
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    apps: dict[str, Any] = {}
    for logical_id, resource in sorted(resources_of_type(template, "AWS::Serverless::Function").items()):
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri", globals_.get("CodeUri"))
        handler = props.get("Handler", globals_.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            continue  # image or inline code: nothing to load
        app = load_app(code_uri, handler)
        if app is not None and callable(getattr(app, "openapi", None)):
            apps[logical_id] = app
    return apps


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One OpenAPI document from several (name -> document); OpenApiConflict on any clash."""
    paths: dict[str, dict[str, Any]] = {}
    owners: dict[tuple[str, str], str] = {}
    components: dict[str, dict[str, Any]] = {}
    versions = {doc.get("openapi") for doc in documents.values()}
    app_versions = {doc.get("info", {}).get("version") for doc in documents.values()}
    if len(versions) > 1:
        raise OpenApiConflict(f"functions use different OpenAPI versions: {sorted(map(str, versions))}")
    if len(app_versions) > 1:
        raise OpenApiConflict(f"functions declare different API versions: {sorted(map(str, app_versions))}")
    for name, doc in documents.items():
        for path, item in doc.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    if (path, method) in owners:
                        raise OpenApiConflict(
                            f"{method.upper()} {path} is declared by both {owners[path, method]} and {name}"
                        )
                    owners[path, method] = name
                elif method in merged and merged[method] != operation:
                    raise OpenApiConflict(f"{path}: {name} and another function disagree on {method!r}")
                merged[method] = operation
        for section, entries in doc.get("components", {}).items():
            target = components.setdefault(section, {})
            for entry, definition in entries.items():
                if entry in target and target[entry] != definition:
                    raise OpenApiConflict(f"components.{section}.{entry} differs between functions (see {name})")
                target[entry] = definition
    openapi_version = next(iter(versions), None) or "3.1.0"
    api_version = next(iter(app_versions), None) or "1.0.0"
    document: dict[str, Any] = {
        "openapi": openapi_version,
        "info": {"title": TITLE, "description": DESCRIPTION, "version": api_version},
        "paths": {path: paths[path] for path in sorted(paths)},
    }
    if components:
        document["components"] = {
            section: {entry: components[section][entry] for entry in sorted(components[section])}
            for section in sorted(components)
        }
    return document


def build(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged document of every REST function of template.yaml."""
    return merge({logical_id: app.openapi() for logical_id, app in function_apps(template).items()})


def render(document: dict[str, Any]) -> str:
    """The document as committed: indented JSON, non-ASCII kept, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.openapi", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write docs/openapi.json and the layer's copy")
    action.add_argument("--check", action="store_true", help="exit 1 when a committed copy is out of date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.write:
        for path in OUTPUTS:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
        return 0
    if args.check:
        stale = [path for path in OUTPUTS if not path.exists() or path.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
        return 1 if stale else 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The merged OpenAPI document: committed copies match the code, every DESIGN section 4 route is in it,
the system function serves it, and merging refuses clashes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack import openapi
from devstack.gateways.rest import response_body, rest_event
from devstack.runtime.handlers import LambdaContext, load_handler

# DESIGN section 4, route by route: (method, path) -> the query parameters it documents.
DESIGN_ROUTES: dict[tuple[str, str], set[str]] = {
    ("post", "/api/v1/auth/token"): set(),
    ("post", "/api/v1/auth/refresh"): set(),
    ("post", "/api/v1/auth/logout"): set(),
    ("get", "/api/v1/auth/me"): set(),
    ("post", "/api/v1/auth/ws-ticket"): set(),
    ("get", "/api/v1/metrics"): set(),
    ("get", "/api/v1/metrics/{metric}"): {"start_time", "end_time", "aggregation", "interval"},
    ("get", "/api/v1/metrics/{metric}/latest"): set(),
    ("get", "/api/v1/alerts"): {"start_time", "end_time", "severity", "status", "source", "limit", "cursor"},
    ("get", "/api/v1/alerts/{alert_id}"): set(),
    ("post", "/api/v1/alerts/{alert_id}/acknowledge"): set(),
    ("post", "/api/v1/alerts/{alert_id}/resolve"): set(),
    ("get", "/api/v1/alerts/rules"): set(),
    ("post", "/api/v1/alerts/rules"): set(),
    ("put", "/api/v1/alerts/rules/{rule_id}"): set(),
    ("delete", "/api/v1/alerts/rules/{rule_id}"): set(),
    ("get", "/api/v1/portfolio"): {"include_history", "history_points"},
    ("get", "/api/v1/portfolio/history"): {"start_time", "end_time", "max_points"},
    ("get", "/api/v1/trades"): {"symbol", "side", "start_time", "end_time", "limit", "cursor"},
    ("get", "/api/v1/trades/{trade_id}"): set(),
    ("get", "/api/v1/system"): set(),
    ("get", "/api/v1/health"): set(),
    ("get", "/api/v1/openapi.json"): set(),
}
PUBLIC = {
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/openapi.json"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in openapi.HTTP_METHODS
    }


@pytest.mark.parametrize("committed", openapi.OUTPUTS, ids=lambda path: path.parent.name + "/" + path.name)
def test_committed_document_matches_the_code(document: dict[str, Any], committed: Any) -> None:
    assert committed.exists(), f"{committed} is missing: run `make openapi`"
    assert committed.read_text(encoding="utf-8") == openapi.render(document), (
        f"{committed} is out of date with the code: run `make openapi` and commit the result"
    )


def test_document_is_openapi_3_with_one_title(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "AlphaPulse dashboard API"
    assert document["info"]["version"]


@pytest.mark.parametrize(("method", "path"), sorted(DESIGN_ROUTES))
def test_design_route_documented(document: dict[str, Any], method: str, path: str) -> None:
    found = operations(document)
    assert (method, path) in found, f"{method.upper()} {path} (DESIGN section 4) is not in the document"
    operation = found[method, path]
    params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert DESIGN_ROUTES[method, path] <= params, f"{method.upper()} {path} lacks query parameters"
    assert "200" in operation["responses"] or "201" in operation["responses"] or "204" in operation["responses"]
    secured = bool(operation.get("security"))
    assert secured is ((method, path) not in PUBLIC), f"{method.upper()} {path}: security does not match DESIGN"


def test_every_path_written_in_full(document: dict[str, Any]) -> None:
    assert all(path.startswith("/api/v1/") for path in document["paths"])


def test_operation_ids_unique_and_present(document: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for operation in operations(document).values()]
    assert None not in ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_schema_reference_resolves(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    schemas = document.get("components", {}).get("schemas", {})
    prefix = '"#/components/schemas/'
    refs = {chunk.split('"', 1)[0] for chunk in text.split(prefix)[1:]}
    assert refs <= set(schemas), refs - set(schemas)


def test_system_function_serves_the_generated_document(app_env: None, document: dict[str, Any]) -> None:
    handler = load_handler("functions/system")
    path = "/api/v1/openapi.json"
    response = handler(rest_event("GET", path, resource=path), LambdaContext("system"))
    assert response["statusCode"] == 200
    assert json.loads(response_body(response)) == document


def _doc(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "1.0.0") -> dict[str, Any]:
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "x", "version": version}, "paths": paths}
    if schemas is not None:
        doc["components"] = {"schemas": schemas}
    return doc


def test_merge_disjoint_documents_combined() -> None:
    merged = openapi.merge(
        {
            "A": _doc({"/api/v1/a": {"get": {"operationId": "a"}}}, {"S": {"type": "string"}}),
            "B": _doc(
                {"/api/v1/a": {"post": {"operationId": "b"}}, "/api/v1/b": {"get": {}}}, {"S": {"type": "string"}}
            ),
        }
    )
    assert list(merged["paths"]) == ["/api/v1/a", "/api/v1/b"]
    assert set(merged["paths"]["/api/v1/a"]) == {"get", "post"}
    assert merged["components"]["schemas"] == {"S": {"type": "string"}}


def test_merge_duplicate_route_refused() -> None:
    with pytest.raises(openapi.OpenApiConflict, match="GET /api/v1/a"):
        openapi.merge({"A": _doc({"/api/v1/a": {"get": {}}}), "B": _doc({"/api/v1/a": {"get": {}}})})


def test_merge_conflicting_schema_refused() -> None:
    with pytest.raises(openapi.OpenApiConflict, match=r"schemas\.S"):
        openapi.merge(
            {"A": _doc({}, {"S": {"type": "string"}}), "B": _doc({}, {"S": {"type": "integer"}})},
        )


def test_merge_different_versions_refused() -> None:
    with pytest.raises(openapi.OpenApiConflict):
        openapi.merge({"A": _doc({}, version="1.0.0"), "B": _doc({}, version="2.0.0")})


def test_check_command_reports_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert openapi.main(["--check"]) == 0, capsys.readouterr().err

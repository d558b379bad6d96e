"""GET /api/v1/docs through the system function's handler: the Swagger UI page and its files, served from
the installed package with their content types and caching headers, with no other origin named, no inline
script, unknown or crafted names answered 404, and nothing read before the first docs request."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from alphapulse.web import docs
from devstack.gateways.rest import response_body, response_headers, rest_event
from devstack.runtime.handlers import LambdaContext
from devstack.template.functions import functions_of
from devstack.template.load import TEMPLATE
from devstack.template.resolve import LocalResolver, read_template
from tests.conftest import ROOT, Reply, RestClient, load_event

DOCS = "/api/v1/docs"
EXTERNAL_URL = re.compile(rb"https?://|(?:src|href)\s*=\s*[\"']?//", re.IGNORECASE)
# What a browser on a deployed stage resolves the page's relative references against.
DEPLOYED_PAGE = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev/api/v1/docs"


class DocsClient(RestClient):
    """API Gateway's two docs resources: the page (`/api/v1/docs`) and its files (`/api/v1/docs/{name}`)."""

    def get(
        self,
        path: str,
        *,
        name: str | None = None,
        query: Sequence[tuple[str, str]] = (),
        headers: Sequence[tuple[str, str]] = (),
    ) -> Reply:
        resource = DOCS if path == DOCS else f"{DOCS}/{{name}}"
        params = None if path == DOCS else {"name": name if name is not None else path.removeprefix(DOCS + "/")}
        event = rest_event(
            "GET",
            path,
            resource=resource,
            path_parameters=params,
            query=query,
            headers=[("Host", "api.test"), *headers],
        )
        response = self.handler(event, LambdaContext("system"))
        assert response.get("isBase64Encoded") is False, "text goes through API Gateway without binaryMediaTypes"
        pairs = response_headers(response)
        return Reply(response["statusCode"], {k.lower(): v for k, v in pairs}, response_body(response), pairs)


class References(HTMLParser):
    """The page's src and href values, and the text inside its script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[tuple[str | None, str]] = []
        self.event_handlers: list[str] = []  # onload= and the like: inline script too
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value for key, value in attrs if key in ("src", "href") and value is not None]
        self.event_handlers += [key for key, _ in attrs if key.startswith("on")]
        if tag == "script":
            self.scripts.append((values.get("src"), ""))
            self._in_script = ""

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            src, text = self.scripts[-1]
            self.scripts[-1] = (src, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def references(body: bytes) -> References:
    parser = References()
    parser.feed(body.decode())
    return parser


def asset_urls(page: bytes) -> list[str]:
    """The page's own files: every reference but the favicon's data: URI and the document's link."""
    return [url for url in references(page).urls if url.startswith("docs/")]


def fetch(api: DocsClient, url: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
    """A reference of the page (docs/<name>?v=...), requested as the browser does."""
    parts = urlsplit(url)
    query = [(key, value) for key, values in parse_qs(parts.query).items() for value in values]
    return api.get(f"/api/v1/{parts.path}", query=query, headers=headers)


@pytest.fixture
def api(app_env: None) -> DocsClient:
    return DocsClient("functions/system", "system")


# --- the page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("credential", [None, "Bearer not-a-token"])
def test_docs_page_any_caller_html(api: DocsClient, credential: str | None) -> None:
    reply = api.get(DOCS, headers=[("Authorization", credential)] if credential else [])
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["etag"].startswith('"')
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert b'<div id="swagger-ui">' in reply.body


def test_docs_page_content_security_policy_strict(api: DocsClient) -> None:
    policy = dict(
        directive.strip().split(" ", 1) for directive in api.get(DOCS).headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_docs_page_no_inline_script(api: DocsClient) -> None:
    page = references(api.get(DOCS).body)
    assert len(page.scripts) == 2
    for src, text in page.scripts:
        assert src and src.startswith("docs/"), src
        assert not text.strip()
    assert page.event_handlers == []


def test_docs_page_and_initializer_name_no_other_origin(api: DocsClient) -> None:
    page = api.get(DOCS).body
    assert not EXTERNAL_URL.search(page), page.decode()
    initializer = fetch(api, next(url for url in asset_urls(page) if "/docs.js?" in f"/{url}"))
    assert initializer.status == 200
    assert not EXTERNAL_URL.search(initializer.body), initializer.body.decode()
    for url in references(page).urls:
        assert url.startswith(("docs/", "data:")) or url == "openapi.json", url


def test_docs_page_references_resolve_under_any_stage(api: DocsClient) -> None:
    page = api.get(DOCS).body
    for url in asset_urls(page):
        assert urljoin(DEPLOYED_PAGE, url).startswith(DEPLOYED_PAGE + "/"), url
    assert urljoin(DEPLOYED_PAGE, "openapi.json").endswith("/dev/api/v1/openapi.json")  # docs.js's document


def test_docs_initializer_loads_the_merged_document(api: DocsClient) -> None:
    initializer = fetch(api, next(url for url in asset_urls(api.get(DOCS).body) if url.startswith("docs/docs.js")))
    assert b"SwaggerUIBundle(" in initializer.body
    assert b'new URL("openapi.json", window.location.href)' in initializer.body
    assert b"validatorUrl: null" in initializer.body  # Swagger UI would otherwise call validator.swagger.io


def test_docs_page_same_etag_304(api: DocsClient) -> None:
    first = api.get(DOCS)
    again = api.get(DOCS, headers=[("If-None-Match", first.headers["etag"])])
    assert again.status == 304
    assert again.body == b""
    assert api.get(DOCS, headers=[("If-None-Match", '"something-else"')]).status == 200


# --- its files ---------------------------------------------------------------------------------------------


def test_docs_files_each_served_with_its_type_and_kept(api: DocsClient) -> None:
    urls = asset_urls(api.get(DOCS).body)
    assert {urlsplit(url).path for url in urls} == {
        "docs/swagger-ui.css",
        "docs/index.css",
        "docs/swagger-ui-bundle.js",
        "docs/docs.js",
    }
    for url in urls:
        reply = fetch(api, url)
        assert reply.status == 200, url
        expected = "text/css" if url.split("?")[0].endswith(".css") else "text/javascript"
        assert reply.headers["content-type"] == f"{expected}; charset=utf-8", url
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable", url
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["etag"] == f'"{parse_qs(urlsplit(url).query)["v"][0]}"'
        assert b"sourceMappingURL" not in reply.body  # the maps are not served


def test_docs_swagger_ui_files_are_the_packaged_ones(api: DocsClient) -> None:
    bundle = api.get(f"{DOCS}/swagger-ui-bundle.js").body
    assert bundle == (docs.swagger_ui_directory() / "swagger-ui-bundle.js").read_bytes()
    assert len(bundle) > 500_000  # Swagger UI itself, not a stub
    css = api.get(f"{DOCS}/swagger-ui.css").body
    assert css.startswith(b".swagger-ui")


@pytest.mark.parametrize("query", [[], [("v", "0123456789abcdef")]], ids=["unversioned", "stale"])
def test_docs_file_not_asked_by_its_version_revalidated(api: DocsClient, query: list[tuple[str, str]]) -> None:
    reply = api.get(f"{DOCS}/swagger-ui.css", query=query)
    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-cache"


def test_docs_file_same_etag_304(api: DocsClient) -> None:
    etag = api.get(f"{DOCS}/swagger-ui-bundle.js").headers["etag"]
    reply = api.get(f"{DOCS}/swagger-ui-bundle.js", headers=[("If-None-Match", f'W/"x", {etag}')])
    assert reply.status == 304
    assert reply.body == b""


@pytest.mark.parametrize(
    "name",
    [
        "nope.js",
        "swagger-ui-bundle.js.map",
        "swagger-ui.css.map",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
        "index.html",
        "oauth2-redirect.html",
        "favicon-32x32.png",
        "__init__.py",
        "SWAGGER-UI.CSS",
        "openapi.json",
    ],
)
def test_docs_unknown_file_404(api: DocsClient, name: str) -> None:
    reply = api.get(f"{DOCS}/{name}")
    assert reply.status == 404
    assert reply.json() == {"detail": "No such docs file"}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (f"{DOCS}/../openapi.json", None),
        (f"{DOCS}/../../../functions/system/app.py", None),
        (f"{DOCS}/..%2Fopenapi.json", "../openapi.json"),
        (f"{DOCS}/..%2F..%2F..%2Fapp.py", "../../../app.py"),
        (f"{DOCS}/%2e%2e%2f%2e%2e%2fweb%2fopenapi.json", "../../web/openapi.json"),
        (f"{DOCS}/..", ".."),
        (f"{DOCS}/.", "."),
        (f"{DOCS}/..%5c..%5capp.py", "..\\..\\app.py"),
        (f"{DOCS}/%2fetc%2fpasswd", "/etc/passwd"),
        (f"{DOCS}/./swagger-ui.css", None),
        (f"{DOCS}/vendor/swagger-ui-bundle.js", None),
        (f"{DOCS}/swagger-ui.css%00.js", "swagger-ui.css\x00.js"),
    ],
)
def test_docs_path_traversal_404(api: DocsClient, path: str, name: str | None) -> None:
    reply = api.get(path, name=name)
    assert reply.status == 404, reply.body[:200]
    assert len(reply.body) < 200  # an error, never a file


# --- cold start, routing, the document ---------------------------------------------------------------------


def test_system_function_cold_start_leaves_docs_alone(app_env: None) -> None:
    # A fresh interpreter, as Lambda's: load the handler and answer another route.
    code = """
import sys
from devstack.gateways.rest import rest_event
from devstack.runtime.handlers import LambdaContext, load_handler
handler = load_handler("functions/system")
response = handler(rest_event("GET", "/api/v1/health", resource="/api/v1/health"), LambdaContext("system"))
assert response["statusCode"] == 200, response
print(sorted(name for name in sys.modules if name.startswith(("alphapulse.web.docs", "swagger_ui_bundle"))))
"""
    path = os.pathsep.join([str(ROOT / "layers" / "common" / "python"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"  # neither compiled nor read: Swagger UI's 1.7 MB stay on disk


def test_docs_routes_in_template_public_and_get_only() -> None:
    template, parameters = read_template(TEMPLATE)
    routes = functions_of(template, LocalResolver(template, parameters))["SystemFunction"].routes
    assert any(route.match("GET", DOCS) is not None for route in routes)
    assert any(route.match("GET", f"{DOCS}/swagger-ui.css") == {"name": "swagger-ui.css"} for route in routes)
    assert not any(route.match("POST", f"{DOCS}/swagger-ui.css") for route in routes)


def test_docs_routes_not_in_openapi_document() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert not [path for path in committed["paths"] if path.startswith(DOCS)]


def test_docs_canned_event_answered_page(api: DocsClient) -> None:
    response = api.handler(load_event("system-docs"), LambdaContext("system"))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/html; charset=utf-8"

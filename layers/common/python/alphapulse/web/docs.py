"""The API's docs page, `GET /api/v1/docs`: Swagger UI over the merged OpenAPI document (`openapi.py`).

Swagger UI's files come from the `swagger-ui-bundle-v2` package (swagger-ui-dist's files, unchanged), which
only SystemFunction installs (functions/system/requirements.txt), so the layer that every function loads
does not carry them. This module is imported, and the files read, at the first request for the page or one
of its files (functions/system/app.py), so the system function's other routes do not pay for them at cold
start.

The page works offline and under a strict Content-Security-Policy: it names no other origin, runs no inline
script (its initializer is an asset like the others), and serves only the files it uses, by a fixed list of
names, so that no request path ever reaches the file system. Assets are addressed by the hash of their
content (`?v=`), which lets browsers keep them for a year; the page itself is revalidated by its ETag.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from fastapi import Request, Response

from alphapulse.core.errors import NotFoundError
from alphapulse.web.app import API_PREFIX

SWAGGER_UI_PACKAGE = "swagger_ui_bundle"  # the import name of swagger-ui-bundle-v2
# Served name -> media type, for the files taken from the Swagger UI distribution (BaseLayout needs no more).
SWAGGER_UI_FILES = {
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
}
INITIALIZER = "docs.js"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"
# Swagger UI styles through the DOM (not inline markup) and draws its icons from data: URIs in its CSS.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# The initializer. Relative URLs resolve against the page's own, so that the page works behind API Gateway's
# stage (`/<stage>/api/v1/docs`) as well as in the local stack. The document writes its paths in full
# (`/api/v1/...`), so "Try it out" puts the stage back in front of them.
INITIALIZER_SOURCE = """\
(function () {
  "use strict";
  var apiPrefix = API_PREFIX + "/";
  var at = window.location.pathname.lastIndexOf(apiPrefix + "docs");
  var stage = at > 0 ? window.location.pathname.slice(0, at) : "";

  function underStage(request) {
    var url = new URL(request.url, window.location.href);
    if (stage && url.origin === window.location.origin && url.pathname.indexOf(apiPrefix) === 0) {
      url.pathname = stage + url.pathname;
      request.url = url.href;
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    displayRequestDuration: true,
    validatorUrl: null,
    requestInterceptor: underStage
  });
})();
""".replace("API_PREFIX", json.dumps(API_PREFIX), 1)


class Asset:
    """A file of the docs page: its bytes, media type and version (a prefix of its SHA-256)."""

    __slots__ = ("body", "media_type", "version")

    def __init__(self, body: bytes, media_type: str) -> None:
        self.body = body
        self.media_type = media_type
        self.version = hashlib.sha256(body).hexdigest()[:16]

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def swagger_ui_directory() -> Path:
    """The Swagger UI distribution inside the package, found without importing it."""
    spec = importlib.util.find_spec(SWAGGER_UI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{SWAGGER_UI_PACKAGE} is not installed: see functions/system/requirements.txt")
    vendor = Path(next(iter(spec.submodule_search_locations))) / "vendor"
    found = sorted(vendor.glob("swagger-ui-*"))
    if len(found) != 1:
        raise RuntimeError(f"expected one Swagger UI distribution in {vendor}, found {len(found)}")
    return found[0]


def _without_source_map(body: bytes) -> bytes:
    """The file without its sourceMappingURL comment: the map is not served, so DevTools need not ask."""
    head, _, last = body.rstrip().rpartition(b"\n")
    return head + b"\n" if last.startswith((b"/*# sourceMappingURL=", b"//# sourceMappingURL=")) else body


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """Served name -> asset, read at the first request for the page or one of its files, and kept."""
    directory = swagger_ui_directory()
    found = {
        name: Asset(_without_source_map((directory / name).read_bytes()), media_type)
        for name, media_type in SWAGGER_UI_FILES.items()
    }
    found[INITIALIZER] = Asset(INITIALIZER_SOURCE.encode(), "text/javascript")
    return found


@lru_cache(maxsize=1)
def page() -> Asset:
    """The HTML page: Swagger UI's files and the initializer, all addressed relative to it."""
    files = assets()

    def url(name: str) -> str:  # relative to /api/v1/docs: /api/v1/docs/<name>, under any stage
        return f"docs/{name}?v={files[name].version}"

    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AlphaPulse API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{url("swagger-ui.css")}">
<link rel="stylesheet" href="{url("index.css")}">
</head>
<body>
<noscript>This page needs JavaScript. The OpenAPI document: <a href="openapi.json">openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="{url("swagger-ui-bundle.js")}"></script>
<script src="{url(INITIALIZER)}"></script>
</body>
</html>
"""
    return Asset(html.encode(), "text/html")


def _unchanged(request: Request, asset: Asset) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    return asset.etag in candidates or "*" in candidates


def _respond(request: Request, asset: Asset, cache_control: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff", **(extra or {})}
    if _unchanged(request, asset):
        return Response(status_code=304, headers=headers)
    return Response(content=asset.body, media_type=asset.media_type, headers=headers)


def docs_page_response(request: Request) -> Response:
    """`GET /api/v1/docs`: the page, revalidated at each visit (its assets' versions may change)."""
    policy = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer"}
    return _respond(request, page(), CACHE_REVALIDATE, policy)


def docs_asset_response(name: str, request: Request) -> Response:
    """`GET /api/v1/docs/{name}`: one of the page's files, kept for a year when asked for by its version."""
    asset = assets().get(name)
    if asset is None:
        raise NotFoundError("No such docs file")
    immutable = request.query_params.get("v") == asset.version
    return _respond(request, asset, CACHE_IMMUTABLE if immutable else CACHE_REVALIDATE)

"""The built dashboard (`web/dist/`) on the REST API's origin, as CloudFront serves it when deployed.

Only `/`, `/config.json` and files that exist in the build are answered here: any other path stays API
Gateway's 403, so the API's behaviour does not change. The page routes with `#/...`, so it needs no fallback.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from pathlib import Path

Reply = tuple[int, bytes, list[tuple[str, str]]]

NOT_BUILT = b"""<!doctype html><html lang="en"><meta charset="utf-8"><title>AlphaPulse</title>
<body style="font-family:system-ui;margin:2rem"><h1>AlphaPulse</h1>
<p>The dashboard is not built yet. Run <code>make run</code> (it builds <code>web/</code> first), or
<code>.venv/bin/python -m devstack.dashboard build</code>, then reload.
The API is at <a href="/api/v1/health">/api/v1</a>.</p>
</body></html>"""


class StaticSite:
    """Answers GET requests for the page, its assets and its `config.json`."""

    def __init__(self, root: Path, config: Mapping[str, str]) -> None:
        self.root = root.resolve()
        self.config = json.dumps(dict(config)).encode()

    def answer(self, path: str) -> Reply | None:
        """The reply for this URL path, or None when it is not the page's."""
        if path == "/config.json":
            return 200, self.config, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        if path in ("/", "/index.html"):
            index = self.root / "index.html"
            body = index.read_bytes() if index.is_file() else NOT_BUILT
            return 200, body, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        if ".." in path or path.startswith("/.") or "/." in path:
            return None  # never outside the build, nor its dot files (.vite/manifest.json, .build-stamp)
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_file() or self.root not in file.parents:
            return None
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        # Vite names assets by their content hash: they never change under one name.
        cache = "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
        return 200, file.read_bytes(), [("Content-Type", kind), ("Cache-Control", cache)]

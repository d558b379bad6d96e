"""The dashboard's files in its bucket: each with its Content-Type and Cache-Control, config.json written from the
stack's outputs, and the CloudFront invalidation of what is not hashed."""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import DeployError

PAGE = "index.html"
CONFIG = "config.json"
# Vite's build.assetsDir: every file in it has a content hash in its name, so a new build never changes one.
ASSETS = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # the browser (and CloudFront, whose page cache policy has MinTTL 0) asks again each time
SHORT = "public, max-age=300"  # favicon, robots.txt and the like: not hashed, rarely changed
# Invalidated after each upload: what a new build changes under the same name.
INVALIDATED = ("/", f"/{PAGE}", f"/{CONFIG}")

# Stated here rather than taken from the machine's mime.types, which differs between systems.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm",
}


@dataclass(frozen=True)
class SiteFile:
    """One object to put in the bucket."""

    key: str
    body: bytes
    content_type: str
    cache_control: str


def content_type_of(key: str) -> str:
    suffix = Path(key).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


def cache_control_of(key: str) -> str:
    if key.startswith(ASSETS):
        return IMMUTABLE
    if key in (PAGE, CONFIG) or key.endswith(".html"):
        return REVALIDATE
    return SHORT


def dashboard_config(outputs: Mapping[str, str]) -> bytes:
    """config.json: where the page finds the APIs (web/src/app/config.ts reads it). RestApiUrl ends at the stage,
    the routes are under /api/v1."""
    missing = [key for key in ("RestApiUrl", "WebSocketUrl") if not outputs.get(key)]
    if missing:
        raise DeployError(f"the stack has no output {' nor '.join(missing)}: is it deployed from this template?")
    config = {"apiUrl": outputs["RestApiUrl"].rstrip("/") + "/api/v1", "webSocketUrl": outputs["WebSocketUrl"]}
    return (json.dumps(config, indent=2) + "\n").encode()


def require_build(dist: Path) -> None:
    """DeployError unless `dist` holds a built page."""
    if not (dist / PAGE).is_file():
        raise DeployError(f"{dist / PAGE} does not exist: build the page first (python -m devstack.dashboard build)")


def site_files(dist: Path, config: bytes) -> list[SiteFile]:
    """The built page under `dist` and config.json, in upload order: hashed assets, other files, config.json, and
    index.html last, so that no visitor gets a page whose files are not there yet. A config.json of the build (the
    local one) is replaced by `config`; dot files stay out."""
    require_build(dist)
    paths = [path.relative_to(dist) for path in dist.rglob("*") if path.is_file()]
    # Dot files are the build's own (.vite/manifest.json, the build stamp), not the page's.
    keys = sorted(path.as_posix() for path in paths if not any(part.startswith(".") for part in path.parts))
    built = [key for key in keys if key not in (PAGE, CONFIG)]
    ordered = [key for key in built if key.startswith(ASSETS)] + [key for key in built if not key.startswith(ASSETS)]
    files = [SiteFile(key, (dist / key).read_bytes(), content_type_of(key), cache_control_of(key)) for key in ordered]
    files.append(SiteFile(CONFIG, config, content_type_of(CONFIG), cache_control_of(CONFIG)))
    files.append(SiteFile(PAGE, (dist / PAGE).read_bytes(), content_type_of(PAGE), cache_control_of(PAGE)))
    return files


def upload(s3: Any, bucket: str, files: list[SiteFile]) -> None:
    """Put each file, in order. Files of earlier builds stay: a page loaded before this deploy still finds its
    chunks."""
    for file in files:
        s3.put_object(
            Bucket=bucket, Key=file.key, Body=file.body, ContentType=file.content_type, CacheControl=file.cache_control
        )


def invalidate(cloudfront: Any, distribution_id: str, paths: tuple[str, ...] = INVALIDATED) -> str:
    """Ask CloudFront to drop its copies of `paths`; the invalidation's id (it completes within minutes)."""
    reply = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": f"deploy-{uuid.uuid4()}",
        },
    )
    invalidation_id: str = reply["Invalidation"]["Id"]
    return invalidation_id

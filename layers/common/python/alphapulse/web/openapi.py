"""The merged OpenAPI document of every REST function, served by the system function."""

from __future__ import annotations

import os
from functools import lru_cache

OPENAPI_RESOURCE = "openapi.json"


@lru_cache(maxsize=1)
def openapi_document() -> bytes:
    """`alphapulse/web/openapi.json` in the layer (written by `make openapi`), read at the first request and kept."""
    with open(os.path.join(os.path.dirname(__file__), OPENAPI_RESOURCE), "rb") as handle:
        return handle.read()

"""A REST function's init: its handler module imports this first (`from alphapulse.web import startup`).

`alphapulse.aws.startup`'s (no garbage collection until `startup.done()`, at the end of the handler module),
then FastAPI, imported by `alphapulse.web.fastapi_compat.import_fastapi` (its OpenAPI models built at first use).
"""

from __future__ import annotations

from alphapulse.aws.startup import done
from alphapulse.web.fastapi_compat import import_fastapi

__all__ = ["done"]

import_fastapi()

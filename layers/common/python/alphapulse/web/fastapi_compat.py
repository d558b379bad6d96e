"""FastAPI without `pydantic.v1`: 15-22 ms less of every REST function's init (docs/decisions.md, issue #15).

FastAPI 0.165 refuses pydantic v1 models, and to tell one apart it imports `pydantic.v1` when it builds the first
route (`fastapi._compat.shared.is_pydantic_v1_model_class`), although no module of ours imports it. A v1 model
class cannot exist unless `pydantic.v1` has been imported, so `lazy_v1_check` asks FastAPI's question only once
it has: the answer is the same, and the import is gone (upstream, fastapi/fastapi#16374 proposes this change and
measured 44 ms of a cold start on Lambda arm64). `alphapulse.web.app` applies it before any route is built;
tests/integration/web/test_fastapi_compat.py checks that no function imports `pydantic.v1` and that a v1 model is still
refused. Remove this module once FastAPI makes the check itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fastapi._compat import shared


def lazy_v1_check() -> None:
    """Make FastAPI's v1-model check import nothing while `pydantic.v1` is not imported (idempotent)."""
    check: Callable[[Any], bool] = shared.is_pydantic_v1_model_class
    if getattr(check, "lazy", False):
        return

    def is_pydantic_v1_model_class(cls: Any) -> bool:
        return "pydantic.v1" in sys.modules and check(cls)

    is_pydantic_v1_model_class.lazy = True  # type: ignore[attr-defined]
    shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class

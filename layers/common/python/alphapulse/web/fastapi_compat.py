"""Two changes to how FastAPI starts, each measured on a REST function's init (docs/decisions.md, issue #15).

- `import_fastapi` (25-30 ms): FastAPI's ~40 OpenAPI models are built when first used, not at import. A function
  never builds its OpenAPI document (`openapi_url=None`). It sets pydantic's private default for `defer_build`
  while FastAPI is imported.
- `lazy_v1_check` (15-22 ms): FastAPI imports `pydantic.v1` at its first route only to refuse v1 models, which
  cannot exist before `pydantic.v1` is imported; the check now runs only once it is (fastapi/fastapi#16374).
  `alphapulse.web.app` applies it before any route is built.

tests/integration/web/test_fastapi_compat.py holds both, and fails when FastAPI makes either unnecessary.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def import_fastapi() -> None:
    """Import FastAPI, the pydantic models it defines left unbuilt until used (nothing if it is imported already)."""
    if "fastapi" in sys.modules:
        return
    from pydantic._internal._config import config_defaults

    defer_build = config_defaults["defer_build"]
    config_defaults["defer_build"] = True
    try:
        import fastapi  # noqa: F401
    finally:
        config_defaults["defer_build"] = defer_build


def lazy_v1_check() -> None:
    """Make FastAPI's v1-model check import nothing while `pydantic.v1` is not imported (idempotent)."""
    from fastapi._compat import shared

    check: Callable[[Any], bool] = shared.is_pydantic_v1_model_class
    if getattr(check, "lazy", False):
        return

    def is_pydantic_v1_model_class(cls: Any) -> bool:
        return "pydantic.v1" in sys.modules and check(cls)

    is_pydantic_v1_model_class.lazy = True  # type: ignore[attr-defined]
    shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class

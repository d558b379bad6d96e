"""Two changes to how FastAPI starts, each measured on a REST function's init (docs/decisions.md, issue #15).

- `import_fastapi`: FastAPI with its OpenAPI models built at first use, 25-30 ms less. fastapi.openapi.models
  defines the OpenAPI document as some 40 pydantic models, and pydantic builds a model's validator when its
  class is created. A function never builds its OpenAPI document (`openapi_url=None`: the merged document is a
  file, `alphapulse.web.openapi`), so pydantic's `defer_build`, which our own models set
  (`alphapulse.core.inputs.Model`), is the default while FastAPI is imported. FastAPI rebuilds `Schema`,
  `Operation` and `Encoding` at the end of that module, which builds them (and what they hold) all the same.
  pydantic has no public setting for that default: tests/integration/web/test_fastapi_compat.py checks that its
  private one still defers FastAPI's models, and that the OpenAPI document is unchanged.
- `lazy_v1_check`: no `pydantic.v1` import, 15-22 ms less. FastAPI 0.165 refuses pydantic v1 models, and to tell
  one apart it imports `pydantic.v1` when it builds the first route (`fastapi._compat.shared.
  is_pydantic_v1_model_class`), although no module of ours imports it. A v1 model class cannot exist unless
  `pydantic.v1` has been imported, so the check asks FastAPI's question only once it has: the answer is the
  same, and the import is gone (upstream, fastapi/fastapi#16374 proposes this change and measured 44 ms of a
  cold start on Lambda arm64). `alphapulse.web.app` applies it before any route is built. Remove it once FastAPI
  makes the check itself (the test that FastAPI alone imports `pydantic.v1` then fails).
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

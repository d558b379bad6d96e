"""Every model of the layer defers its build to first use (cold start), and every one of them can be built."""

from __future__ import annotations

import importlib
import pkgutil

import alphapulse
from alphapulse.core.inputs import Model, imported_models
from tests.conftest import fresh_python


def every_model() -> list[type[Model]]:
    for module in pkgutil.walk_packages(alphapulse.__path__, "alphapulse."):
        importlib.import_module(module.name)
    return imported_models()


def test_every_model_builds() -> None:
    models = every_model()
    assert len(models) >= 40  # the layer's models, not an empty walk
    for model in models:
        model.model_rebuild(force=True)
        assert model.__pydantic_complete__, model.__qualname__


def test_importing_builds_no_model() -> None:
    # A fresh interpreter: the models this test run already used are built.
    code = (
        "import importlib, pkgutil, alphapulse\n"
        "from alphapulse.core.inputs import imported_models\n"
        "for m in pkgutil.walk_packages(alphapulse.__path__, 'alphapulse.'): importlib.import_module(m.name)\n"
        "print(','.join(model.__qualname__ for model in imported_models() if model.__pydantic_complete__))\n"
    )
    assert fresh_python(code).strip() == ""

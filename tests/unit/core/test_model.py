"""Every model of the layer defers its build to first use (cold start), and every one of them can be built."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

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


def test_building_models_imports_no_importlib_metadata() -> None:
    # pydantic's plugin loader is imported lean (alphapulse.core.inputs.import_plugin_loader), as in an event function,
    # where plugins are disabled (template.yaml's Globals).
    code = (
        "import os; os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
        "import sys, alphapulse.ingest.logic.trading, alphapulse.ingest.logic.alerts\n"
        "from alphapulse.core.inputs import build_imported_models\n"
        "build_imported_models()\n"
        "print('pydantic.plugin._loader' in sys.modules, 'importlib.metadata' in sys.modules)\n"
    )
    assert fresh_python(code).strip() == "True False"


def test_enabled_pydantic_plugins_still_load(tmp_path: Path) -> None:
    # A plugin installed the way pydantic finds them: an entry point in the `pydantic` group.
    (tmp_path / "recording_plugin.py").write_text(
        "calls = []\n"
        "class Plugin:\n"
        "    def new_schema_validator(self, schema, schema_type, *args, **kwargs):\n"
        "        calls.append(schema_type.__name__)\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n"
    )
    metadata = tmp_path / "recording_plugin-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: recording-plugin\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text("[pydantic]\nrecording = recording_plugin:plugin\n")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import os; os.environ.pop('PYDANTIC_DISABLE_PLUGINS', None)\n"
        "from alphapulse.core.inputs import Model\n"
        "class Order(Model):\n"
        "    symbol: str\n"
        "Order(symbol='X')\n"
        "import recording_plugin\n"
        "print(recording_plugin.calls)\n"
    )
    assert fresh_python(code).strip() == "['Order']"

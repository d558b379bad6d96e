"""`alphapulse.web.fastapi_compat`: every REST function imports FastAPI with its OpenAPI models unbuilt, and the
OpenAPI document is unchanged; no function imports `pydantic.v1` (FastAPI alone would, at its first route), and a
pydantic v1 model is still refused. Each case runs in a fresh interpreter, as a function's init."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import fresh_python, in_function, template_functions

V2_ROUTE = (
    "import sys, pydantic\n"
    "class Order(pydantic.BaseModel):\n"
    "    symbol: str\n"
    "router = APIRouter()\n"
    "@router.post('/orders')\n"
    "async def create(order: Order) -> Order:\n"
    "    return order\n"
    "print('pydantic.v1' in sys.modules)\n"
)


def test_fastapi_alone_imports_pydantic_v1_at_its_first_route() -> None:
    # Why the module exists. Once this fails, FastAPI checks lazily itself: remove alphapulse.web.fastapi_compat.
    assert fresh_python("from fastapi import APIRouter\n" + V2_ROUTE).strip() == "True"


def test_with_the_lazy_check_a_route_of_v2_models_imports_no_pydantic_v1() -> None:
    assert fresh_python("from alphapulse.web.app import APIRouter\n" + V2_ROUTE).strip() == "False"


OPENAPI_MODELS_BUILT = (
    "import fastapi.openapi.models as m\n"
    "print([m.Info.__pydantic_complete__, m.Components.__pydantic_complete__, m.OpenAPI.__pydantic_complete__])\n"
)


def test_fastapi_alone_builds_its_openapi_models_at_import() -> None:
    # Why import_fastapi exists (when this fails, FastAPI defers them itself: remove it).
    assert fresh_python("import fastapi\n" + OPENAPI_MODELS_BUILT).strip() == "[True, True, True]"


def test_import_fastapi_leaves_the_openapi_models_to_their_first_use() -> None:
    code = (
        "from alphapulse.web.fastapi_compat import import_fastapi\n"
        "import_fastapi()\n" + OPENAPI_MODELS_BUILT + "m.Info(title='t', version='1')\n" + OPENAPI_MODELS_BUILT +
        # Only while FastAPI is imported: models made afterwards are built as usual.
        "import pydantic\n"
        "class Later(pydantic.BaseModel):\n"
        "    x: int\n"
        "print(Later.__pydantic_complete__)\n"
    )  # fmt: skip
    assert fresh_python(code).split("\n")[:3] == ["[False, False, False]", "[True, False, False]", "True"]


def test_with_the_openapi_models_deferred_the_openapi_document_is_unchanged() -> None:
    code = (
        "from alphapulse.web.fastapi_compat import import_fastapi\n"
        "import_fastapi()\n"
        "from devstack import openapi\n"
        "import fastapi.openapi.models as m\n"
        "print(m.OpenAPI.__pydantic_complete__)\n"
        "print(openapi.main(['--check']))\n"
    )
    lines = fresh_python(code).split()
    assert (lines[0], lines[-1]) == ("False", "0"), lines  # deferred until the document was built, and unchanged


def test_every_function_starts_lean() -> None:
    # After init: the collector frozen and running again (startup.done()), no `pydantic.v1`, and FastAPI's OpenAPI
    # models unbuilt where FastAPI is imported.
    code = (
        "import gc, sys\n"
        "m = sys.modules.get('fastapi.openapi.models')\n"
        "print(gc.isenabled() and gc.get_freeze_count() > 0, 'pydantic.v1' in sys.modules,"
        " m and m.Info.__pydantic_complete__)\n"
    )
    with ThreadPoolExecutor(2) as pool:
        imported = dict(pool.map(lambda f: (f.logical_id, in_function(f, code)), template_functions()))
    # The 7 REST functions import FastAPI (through alphapulse.web.startup); the 8 others do not import it.
    assert sorted(imported.values()) == ["True False False\n"] * 7 + ["True False None\n"] * 8, imported


def test_a_pydantic_v1_model_is_still_refused() -> None:
    code = (
        "import warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from pydantic import v1\n"
        "from fastapi.exceptions import PydanticV1NotSupportedError\n"
        "from alphapulse.web.app import api_router\n"
        "class Old(v1.BaseModel):\n"
        "    symbol: str\n"
        "router = api_router('/old', tags=['old'])\n"
        "try:\n"
        "    @router.post('')\n"
        "    async def create(order: Old) -> None: ...\n"
        "except PydanticV1NotSupportedError:\n"
        "    print('refused')\n"
    )
    assert fresh_python(code).strip() == "refused"

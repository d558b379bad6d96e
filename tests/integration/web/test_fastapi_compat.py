"""`alphapulse.web.fastapi_compat`: no function imports `pydantic.v1` (FastAPI alone would, at its first route), and
a pydantic v1 model is still refused. Each case runs in a fresh interpreter, as a function's init."""

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


def test_no_function_imports_pydantic_v1() -> None:
    functions = template_functions()
    with ThreadPoolExecutor(2) as pool:
        imported = dict(
            pool.map(
                lambda f: (f.logical_id, in_function(f, "import sys; print('pydantic.v1' in sys.modules)")), functions
            )
        )
    assert len(imported) == 15 and set(imported.values()) == {"False\n"}, imported


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

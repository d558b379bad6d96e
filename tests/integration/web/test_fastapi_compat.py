"""`alphapulse.web.fastapi_compat`: no function imports `pydantic.v1` (FastAPI alone would, at its first route), and
a pydantic v1 model is still refused. Each case runs in a fresh interpreter, as a function's init."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import ROOT, in_function, template_functions

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


def fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                            env={"PYTHONPATH": str(ROOT / "layers/common/python"), "APP_ENV": "local"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_fastapi_alone_imports_pydantic_v1_at_its_first_route() -> None:
    # Why the module exists. Once this fails, FastAPI checks lazily itself: remove alphapulse.web.fastapi_compat.
    assert fresh("from fastapi import APIRouter\n" + V2_ROUTE) == "True"


def test_with_the_lazy_check_a_route_of_v2_models_imports_no_pydantic_v1() -> None:
    assert fresh("from alphapulse.web.app import APIRouter\n" + V2_ROUTE) == "False"


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
    assert fresh(code) == "refused"

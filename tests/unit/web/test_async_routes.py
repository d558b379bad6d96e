"""Every route and dependency of the REST functions is `async def`: FastAPI runs anything else on a worker
thread, and its first use imports anyio's thread machinery (11 ms of a cold start) and hands every request
to another thread (docs/decisions.md)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.routing import APIRoute

from devstack.openapi import function_apps


def _calls(dependant: Any) -> list[Any]:
    calls = [dependant.call] if dependant.call is not None else []
    for sub in dependant.dependencies:
        calls.extend(_calls(sub))
    return calls


def _is_async(call: Any) -> bool:
    if inspect.isclass(call):
        return False
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


def test_every_route_and_dependency_is_a_coroutine() -> None:
    apps = function_apps()
    routes = [route for app in apps.values() for route in app.router.routes if isinstance(route, APIRoute)]
    assert len(routes) >= 20  # every function's routes were found, not an empty walk

    sync = {f"{route.path}: {getattr(call, '__qualname__', call)}" for route in routes
            for call in _calls(route.dependant) if not _is_async(call)}  # fmt: skip

    assert sync == set()

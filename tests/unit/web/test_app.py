"""The app factory (alphapulse.web.app): every function's routes are the app's own, all under /api/v1."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from alphapulse.web.app import API_PREFIX, api_router, create_app
from devstack.openapi import function_apps


def test_every_function_serves_its_routes_as_declared() -> None:
    """No included routers: FastAPI would build each of their routes again at the function's first request."""
    apps = function_apps()
    assert len(apps) >= 7  # every REST function, not an empty walk

    for name, app in apps.items():
        kinds = {type(route).__name__ for route in app.router.routes}
        assert kinds == {"APIRoute"}, name
        assert all(route.path.startswith(API_PREFIX + "/") for route in app.router.routes), name


def test_a_route_outside_the_api_prefix_is_refused_by_name() -> None:
    inside, outside = api_router("/things", tags=["things"]), api_router(tags=["things"])
    inside.get("/{thing_id}")(_endpoint)
    outside.routes.append(APIRoute("/elsewhere", _endpoint))

    with pytest.raises(ValueError, match=r"outside /api/v1 \(use api_router\): \['/elsewhere'\]"):
        create_app("probe", routers=[inside, outside])


async def _endpoint() -> dict[str, str]:
    return {}

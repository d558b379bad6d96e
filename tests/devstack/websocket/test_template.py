"""The gateway's model of a template: routes, integrations, authorizers, stage and route selection."""

from __future__ import annotations

import copy

import pytest

from devstack.gateways.websocket import Authorizer, WebSocketApiModel, WebSocketRoute, websocket_apis
from devstack.template.load import TEMPLATE
from devstack.template.resolve import LocalResolver, read_template
from tests.devstack.websocket.conftest import FIXTURES


def apis_of(read: tuple[dict, dict[str, str]]) -> dict[str, WebSocketApiModel]:
    template, parameters = read
    return websocket_apis(template, LocalResolver(template, parameters))


def test_websocket_apis_of_the_project_template_route_to_its_functions() -> None:
    (api,) = apis_of(read_template(TEMPLATE)).values()
    assert (api.logical_id, api.stage, api.body_path) == ("WebSocketApi", "dev", ("action",))
    assert {key: route.function for key, route in api.routes.items()} == {
        "$connect": "WsConnectionFunction",
        "$disconnect": "WsConnectionFunction",
        "subscribe": "WsMessageFunction",
        "unsubscribe": "WsMessageFunction",
        "ping": "WsMessageFunction",
        "$default": "WsMessageFunction",
    }
    assert all(route.authorizer is None and not route.returns_response for route in api.routes.values())


def test_websocket_apis_reads_authorizers_joins_and_nested_selection_paths() -> None:
    (api,) = apis_of(read_template(FIXTURES / "ws_auth.yaml")).values()
    assert (api.stage, api.body_path) == ("dev", ("meta", "kind"))
    assert api.routes["$connect"] == WebSocketRoute(
        "$connect", "ConnectFunction", Authorizer("AuthorizerFunction", ("route.request.querystring.token",))
    )
    assert api.routes["whoami"] == WebSocketRoute("whoami", "EchoFunction")


def test_websocket_apis_marks_routes_with_a_route_response() -> None:
    (api,) = apis_of(read_template(FIXTURES / "ws_app.yaml")).values()
    assert [key for key, route in api.routes.items() if route.returns_response] == ["reply"]


def test_websocket_apis_refuses_integrations_it_cannot_serve() -> None:
    template = read_template(FIXTURES / "ws_app.yaml")[0]
    mock = copy.deepcopy(template)
    mock["Resources"]["EchoIntegration"]["Properties"]["IntegrationType"] = "MOCK"
    with pytest.raises(ValueError, match="AWS_PROXY"):
        apis_of((mock, {}))
    header_selection = copy.deepcopy(template)
    header_selection["Resources"]["EchoApi"]["Properties"]["RouteSelectionExpression"] = "$request.header.x"
    with pytest.raises(ValueError, match="route selection expression"):
        apis_of((header_selection, {}))
    dangling = copy.deepcopy(template)
    dangling["Resources"]["EchoRoute"]["Properties"]["Target"] = "integrations/abc123"
    with pytest.raises(ValueError, match="Target"):
        apis_of((dangling, {}))


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"action": "echo"}', "echo"),
        ('{"action": "echo", "n": 1}', "echo"),
        ("not json", "$default"),
        ("", "$default"),
        (None, "$default"),
        ("[1, 2]", "$default"),
        ('{"n": 1}', "$default"),
        ('{"action": 7}', "$default"),
        ('{"action": "dance"}', "$default"),
        ('{"action": "$connect"}', "$default"),  # a client cannot reach the reserved routes
        ('{"action": "$disconnect"}', "$default"),
    ],
)
def test_route_key_selects_by_the_body_path_with_default_as_fallback(body: str | None, key: str) -> None:
    routes = {k: WebSocketRoute(k, "F") for k in ("$connect", "$disconnect", "$default", "echo")}
    assert WebSocketApiModel("Api", "local", ("action",), routes).route_key(body) == key


def test_route_key_follows_a_nested_path() -> None:
    api = WebSocketApiModel("Api", "dev", ("meta", "kind"), {"whoami": WebSocketRoute("whoami", "F")})
    assert api.route_key('{"meta": {"kind": "whoami"}}') == "whoami"
    assert api.route_key('{"meta": "whoami"}') == "$default"
    assert api.route_key('{"kind": "whoami"}') == "$default"

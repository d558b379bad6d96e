"""SnapStart in template.yaml: on for prod's functions (or as the SnapStart parameter says), and every caller,
SAM's events and the template's own WebSocket integrations alike, invokes the published `live` alias. A caller of
the unqualified function would run $LATEST, which SnapStart never applies to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.template.load import TEMPLATE, function_behind, references, resources_of_type
from devstack.template.resolve import LocalResolver, read_template

pytestmark = pytest.mark.infra


def _expanded(**overrides: str) -> tuple[dict[str, Any], LocalResolver]:
    template, parameters = read_template(Path(TEMPLATE), overrides)
    return template, LocalResolver(template, parameters)


def _apply_on(template: dict[str, Any], resolver: LocalResolver) -> dict[str, str]:
    functions = resources_of_type(template, "AWS::Lambda::Function")
    return {name: resolver.resolve(f["Properties"]["SnapStart"]["ApplyOn"]) for name, f in functions.items()}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Stage": "prod"}, "PublishedVersions"),
        ({"Stage": "dev"}, "None"),
        ({"Stage": "staging"}, "None"),
        ({"Stage": "dev", "SnapStart": "enabled"}, "PublishedVersions"),
        ({"Stage": "prod", "SnapStart": "disabled"}, "None"),
    ],
)
def test_snapstart_applies_as_the_stage_and_parameter_say(overrides: dict[str, str], expected: str) -> None:
    template, resolver = _expanded(**overrides)
    applied = _apply_on(template, resolver)
    assert len(applied) == 15
    assert set(applied.values()) == {expected}


def test_every_function_publishes_a_live_alias() -> None:
    template, resolver = _expanded(Stage="prod")
    aliases = resources_of_type(template, "AWS::Lambda::Alias")
    behind = {function_behind(template, name): resolver.resolve(alias["Properties"]["Name"])
              for name, alias in aliases.items()}  # fmt: skip
    assert behind == dict.fromkeys(resources_of_type(template, "AWS::Lambda::Function"), "live")


def _callers(template: dict[str, Any]) -> dict[str, Any]:
    """Everything that names a function to invoke it: API integrations, permissions, rule targets, event source
    mappings and SNS subscriptions."""
    found: dict[str, Any] = {}
    for name, api in resources_of_type(template, "AWS::ApiGateway::RestApi").items():
        for path, methods in api["Properties"]["Body"]["paths"].items():
            for method, operation in methods.items():
                found[f"{name} {method} {path}"] = operation["x-amazon-apigateway-integration"]["uri"]
    for name, integration in resources_of_type(template, "AWS::ApiGatewayV2::Integration").items():
        found[name] = integration["Properties"]["IntegrationUri"]
    for name, permission in resources_of_type(template, "AWS::Lambda::Permission").items():
        found[name] = permission["Properties"]["FunctionName"]
    for name, rule in resources_of_type(template, "AWS::Events::Rule").items():
        found[name] = [target["Arn"] for target in rule["Properties"]["Targets"]]
    for name, mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").items():
        found[name] = mapping["Properties"]["FunctionName"]
    for name, subscription in resources_of_type(template, "AWS::SNS::Subscription").items():
        if subscription["Properties"]["Protocol"] == "lambda":
            found[name] = subscription["Properties"]["Endpoint"]
    return found


def test_every_caller_invokes_the_alias_never_latest() -> None:
    template, _ = _expanded(Stage="prod")
    callers = _callers(template)
    assert len(callers) > 30  # REST routes, WebSocket integrations, permissions, schedules, queues, topics
    functions = set(resources_of_type(template, "AWS::Lambda::Function"))
    aliases = set(resources_of_type(template, "AWS::Lambda::Alias"))
    for caller, target in callers.items():
        named = [name for name in references(target) if function_behind(template, name) is not None]
        assert named, f"{caller} names no function: {target}"
        assert not set(named) & functions, f"{caller} invokes $LATEST: {target}"
        assert set(named) <= aliases, caller


def test_the_local_stack_invokes_a_function_by_any_of_its_arns() -> None:
    from devstack.events.router import read_routes

    template, resolver = _expanded(Stage="prod")
    routes = read_routes(template, resolver)
    for name in resources_of_type(template, "AWS::Lambda::Function"):
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{resolver.resolve({'Ref': name})}"
        for qualified in (arn, f"{arn}:$LATEST", f"{arn}:live", f"{arn}:1"):
            assert routes.functions.get(qualified) == name, qualified

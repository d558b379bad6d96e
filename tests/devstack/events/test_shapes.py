"""The pure parts: event shapes, batch responses, input paths, and what the router refuses to route."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.events.router import read_routes
from devstack.events.shapes import (
    batch_item_failures,
    dead_letter_attributes,
    eventbridge_event,
    invocation_record,
    target_input,
)
from devstack.template.resolve import LocalResolver
from tests.devstack.events.conftest import function_with_events

IDS = {"m1", "m2"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m3"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"id": "m1"}]}, None),
        ({"batchItemFailures": "m1"}, None),
    ],
)
def test_batch_item_failures_follow_lambdas_rules(response: Any, expected: set[str] | None) -> None:
    assert batch_item_failures(response, IDS) == expected


def test_eventbridge_event_adds_the_account_and_drops_extra_keys() -> None:
    delivered = {
        "detail": {},
        "id": "1",
        "time": "t",
        "version": "0",
        "detail-type": "d",
        "source": "s",
        "region": "us-east-1",
        "resources": [],
        "ingestion-time": 1,
    }

    event = eventbridge_event(delivered, "123456789012")

    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event["account"] == "123456789012"


def test_target_input_selects_paths_and_refuses_what_it_cannot_read() -> None:
    event = {"detail": {"order": {"id": "o-1"}}}
    assert target_input(event) is event
    assert target_input(event, path="$") is event
    assert target_input(event, path="$.detail.order") == {"id": "o-1"}
    assert target_input(event, path="$.detail.missing") is None
    assert target_input(event, constant={"fixed": 1}, path="$.detail") == {"fixed": 1}
    with pytest.raises(ValueError, match="InputPath"):
        target_input(event, path="$.detail[0]")


def test_invocation_record_without_an_attempt_has_no_response() -> None:
    record = invocation_record(
        request_id="r",
        function_arn="arn:aws:lambda:us-east-1:1:function:f",
        condition="EventAgeExceeded",
        invoke_count=0,
        request_payload={"a": 1},
    )
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload"}


def test_dead_letter_error_message_is_cut_at_one_kilobyte() -> None:
    attributes = dead_letter_attributes("r", {"errorMessage": "x" * 5000})
    assert len(attributes["ErrorMessage"]["StringValue"]) == 1024


def routes_of(events: dict[str, Any]) -> Any:
    template = function_with_events(events)
    return read_routes(template, LocalResolver(template, {}))


def test_unsupported_event_settings_are_refused_rather_than_routed_wrongly() -> None:
    with pytest.raises(ValueError, match="InputTransformer"):
        routes_of(
            {"E": {"Type": "EventBridgeRule", "Properties": {"Pattern": {"source": ["s"]}, "InputTransformer": {}}}}
        )
    with pytest.raises(ValueError, match="InputPath"):
        routes_of({"E": {"Type": "EventBridgeRule", "Properties": {"Pattern": {}, "InputPath": "$.detail[0]"}}})
    with pytest.raises(ValueError, match=r"SAM cannot expand the template: .*property Schedule not defined"):
        routes_of({"E": {"Type": "EventBridgeRule", "Properties": {"Schedule": "rate(1 minute)"}}})


def test_async_defaults_are_lambdas() -> None:
    config = routes_of({}).configs["Fn"]
    assert (config.max_retries, config.max_age) == (2, 21600.0)
    assert (config.on_failure, config.on_success, config.dead_letter) == (None, None, None)

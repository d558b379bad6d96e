"""The content-filtering grammar the router matches with: EventBridge patterns and SNS filter policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.events.patterns import attribute_values, filter_policy_matches, matches

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "1",
    "detail-type": "OrderPlaced",
    "source": "shop.orders",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::bucket"],
    "detail": {
        "state": "running",
        "amount": 150,
        "flag": False,
        "tags": ["red", "blue"],
        "note": None,
        "lines": [{"sku": "a-1", "qty": 1}, {"sku": "b-2", "qty": 5}],
        "ip": "10.0.0.7",
        "customer": {"address": {"country": "FR"}},
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["shop.orders"]}, True),
        ({"source": ["shop.payments"]}, False),
        ({"source": ["shop.orders"], "detail-type": ["OrderShipped"]}, False),
        ({"source": [{"prefix": "shop."}]}, True),
        ({"source": [{"prefix": "bank."}]}, False),
        ({"source": [{"prefix": {"equals-ignore-case": "SHOP."}}]}, True),
        ({"source": [{"suffix": ".orders"}]}, True),
        ({"source": [{"equals-ignore-case": "SHOP.ORDERS"}]}, True),
        ({"source": [{"wildcard": "shop.*s"}]}, True),
        ({"source": [{"wildcard": "shop.\\*"}]}, False),
        ({"detail": {"state": [{"anything-but": ["stopped", "paused"]}]}}, True),
        ({"detail": {"state": [{"anything-but": "running"}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}, False),
        ({"detail": {"missing": [{"anything-but": "x"}]}}, False),
        ({"detail": {"amount": [{"numeric": [">", 100, "<=", 150]}]}}, True),
        ({"detail": {"amount": [{"numeric": [">", 150]}]}}, False),
        ({"detail": {"amount": [150.0]}}, True),
        ({"detail": {"amount": ["150"]}}, False),
        ({"detail": {"flag": [False]}}, True),
        ({"detail": {"flag": [0]}}, False),
        ({"detail": {"note": [None]}}, True),
        ({"detail": {"missing": [None]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"customer": [{"exists": True}]}}, False),  # exists looks at leaves only
        ({"detail": {"customer": {"address": {"country": ["FR", "DE"]}}}}, True),
        ({"detail": {"customer": {"address": {"country": ["DE"]}}}}, False),
        ({"detail": {"tags": ["blue"]}}, True),
        ({"detail": {"tags": ["green"]}}, False),
        ({"detail": {"lines": {"sku": [{"prefix": "b-"}]}}}, True),
        (
            {"detail": {"lines": {"sku": ["a-1"], "qty": [{"numeric": [">", 2]}]}}},
            False,
        ),  # one element must match whole
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"ip": [{"cidr": "10.0.1.0/24"}]}}, False),
        ({"resources": ["arn:aws:s3:::bucket"]}, True),
        ({"$or": [{"source": ["bank"]}, {"detail": {"amount": [150]}}]}, True),
        ({"$or": [{"source": ["bank"]}, {"detail": {"amount": [1]}}]}, False),
        ({"account": ["123456789012"], "region": ["us-east-1"]}, True),
    ],
)
def test_matches_event_patterns(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


ATTRIBUTES = {
    "severity": {"Type": "String", "Value": "critical"},
    "count": {"Type": "Number", "Value": "7"},
    "teams": {"Type": "String.Array", "Value": '["payments", "risk"]'},
    "blob": {"Type": "Binary", "Value": "AAE="},
}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"severity": ["critical"]}, True),
        ({"severity": ["low"]}, False),
        ({"severity": [{"equals-ignore-case": "CRITICAL"}]}, True),
        ({"severity": [{"prefix": "crit"}]}, True),
        ({"severity": [{"anything-but": ["critical"]}]}, False),
        ({"count": [7]}, True),
        ({"count": ["7"]}, False),  # a Number attribute compares as a number
        ({"count": [{"numeric": [">=", 3, "<", 10]}]}, True),
        ({"count": [{"numeric": [">", 7]}]}, False),
        ({"teams": ["risk"]}, True),
        ({"teams": ["ops"]}, False),
        ({"missing": [{"exists": False}]}, True),
        ({"missing": ["x"]}, False),
        ({"blob": [{"exists": True}]}, False),  # binary attributes take no part
        ({"severity": ["critical"], "count": [1]}, False),
        ({"$or": [{"severity": ["low"]}, {"count": [7]}]}, True),
    ],
)
def test_filter_policy_on_attributes(policy: dict[str, Any], expected: bool) -> None:
    assert filter_policy_matches(policy, "MessageAttributes", "not json", ATTRIBUTES) is expected


BODY = json.dumps(
    {
        "severity": "critical",
        "metric": {"name": "cpu", "value": 93.5},
        "labels": {"team": "payments"},
        "items": [{"kind": "a"}, {"kind": "b"}],
    }
)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"severity": ["critical"]}, True),
        ({"labels": {"team": ["payments"]}}, True),
        ({"labels": {"team": ["risk"]}}, False),
        ({"metric": {"value": [{"numeric": [">", 90]}]}}, True),
        ({"items": {"kind": ["b"]}}, True),
        ({"nested": {"key": [{"exists": False}]}}, True),  # a missing parent: the leaf does not exist
        ({"$or": [{"severity": ["low"]}, {"labels": {"team": ["payments"]}}]}, True),
    ],
)
def test_filter_policy_on_body(policy: dict[str, Any], expected: bool) -> None:
    assert filter_policy_matches(policy, "MessageBody", BODY, {}) is expected


def test_filter_policy_on_body_rejects_a_message_that_is_not_json() -> None:
    assert not filter_policy_matches({"severity": ["critical"]}, "MessageBody", "critical", {})


def test_empty_filter_policy_passes_everything() -> None:
    assert filter_policy_matches({}, "MessageBody", "not json", {})


def test_attribute_values_types_numbers_and_arrays() -> None:
    assert attribute_values(ATTRIBUTES) == {"severity": "critical", "count": 7.0, "teams": ["payments", "risk"]}

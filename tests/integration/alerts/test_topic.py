"""The alerts topic's publisher on moto: every message carries the attributes the channels' filter policies read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alphapulse.alerts.repositories.topic import AlertTopic, message_attributes
from alphapulse.core.errors import DataAccessError
from tests.fakes import topic_to_queue

MESSAGE = {"tenant_id": "acme", "title": "Drawdown", "message": "Drawdown is 9%", "severity": "critical",
           "source": "alphapulse.rules", "status": "firing", "timestamp": "2026-01-15T14:00:00Z"}  # fmt: skip


def test_message_attributes_are_the_filtered_fields_as_strings() -> None:
    assert message_attributes(MESSAGE) == {
        "severity": {"DataType": "String", "StringValue": "critical"},
        "status": {"DataType": "String", "StringValue": "firing"},
        "tenant_id": {"DataType": "String", "StringValue": "acme"},
        "source": {"DataType": "String", "StringValue": "alphapulse.rules"},
    }


def test_message_attributes_skip_missing_empty_and_non_string_fields() -> None:
    # SNS refuses an empty String attribute; a number or a list is no alert field's type.
    message = {"severity": "", "status": 3, "source": ["x"], "message": "no tenant"}

    assert message_attributes(message) == {}


def _bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [{"body": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})} for m in reply["Messages"]]


def test_publish_sets_attributes_that_a_severity_filter_policy_selects_on(moto_server: str) -> None:
    import boto3

    topic, everything = topic_to_queue(moto_server, "alerts", "everything")
    _, critical_only = topic_to_queue(moto_server, "alerts", "critical", {"severity": ["critical"]})
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")

    AlertTopic(topic).publish({**MESSAGE, "severity": "warning"})
    AlertTopic(topic).publish(MESSAGE)

    received = _bodies(sqs, everything)
    assert [item["body"]["severity"] for item in received] == ["warning", "critical"]
    assert received[1]["attributes"]["severity"] == {"DataType": "String", "StringValue": "critical"}
    assert received[1]["attributes"]["tenant_id"] == {"DataType": "String", "StringValue": "acme"}
    assert [item["body"]["severity"] for item in _bodies(sqs, critical_only)] == ["critical"]


def test_publish_to_a_missing_topic_raises_data_access_error(moto_server: str) -> None:
    with pytest.raises(DataAccessError):
        AlertTopic("arn:aws:sns:us-east-1:123456789012:no-such-topic").publish(MESSAGE)

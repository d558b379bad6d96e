"""The SNS alerts topic, as the rules engine publishes to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alphapulse.aws import sns
from alphapulse.core.errors import DataAccessError

# The fields of a message (DESIGN section 6) that subscriptions filter on; SNS filter policies in
# MessageAttributes scope see only attributes, so every publisher sets these.
FILTERED_FIELDS = ("severity", "status", "tenant_id", "source")


def message_attributes(message: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The SNS MessageAttributes of an alert message: each of FILTERED_FIELDS it holds as a non-empty
    string, as a String attribute (SNS refuses empty values)."""
    return {
        name: {"DataType": "String", "StringValue": value}
        for name in FILTERED_FIELDS
        if isinstance(value := message.get(name), str) and value
    }


class AlertTopic:
    """Publishes alert messages (DESIGN section 6) on one topic."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def publish(self, message: Mapping[str, Any]) -> None:
        """Publish one message as JSON, with its message_attributes; DataAccessError when SNS refused it or
        could not be reached."""
        try:
            sns.client().publish(TopicArn=self.topic_arn, Message=json.dumps(message, separators=(",", ":")),
                                 MessageAttributes=message_attributes(message))  # fmt: skip
        except sns.SnsError as exc:
            raise DataAccessError("the alerts topic did not take a message") from exc

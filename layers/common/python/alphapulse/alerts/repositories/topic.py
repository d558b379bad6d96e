"""The SNS alerts topic, as the rules engine publishes to it (botocore: this function's cold start has
no target, see docs/decisions.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alphapulse.aws import sdk
from alphapulse.core.errors import DataAccessError


class AlertTopic:
    """Publishes alert messages (DESIGN section 6) on one topic."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def publish(self, message: Mapping[str, Any]) -> None:
        """Publish one message as JSON; DataAccessError when SNS refused it or could not be reached."""
        try:
            sdk.call("sns", "publish", TopicArn=self.topic_arn, Message=json.dumps(message, separators=(",", ":")))
        except sdk.SdkError as exc:
            raise DataAccessError("the alerts topic did not take a message") from exc

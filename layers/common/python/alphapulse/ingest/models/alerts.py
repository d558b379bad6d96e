"""The messages of the SNS alerts topic (DESIGN section 6): `parse_alert_messages` turns a Lambda event into
validated alert events, or raises InvalidEventError."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError

from alphapulse.alerts.models import AlertEvent
from alphapulse.core import inputs
from alphapulse.core.inputs import Model
from alphapulse.ingest.models.checks import (
    InvalidEventError,
    check_event,
    check_not_ahead,
    check_storable,
    latest_allowed,
    reason,
)


class SnsMessage(Model):
    model_config = ConfigDict(extra="ignore")

    Message: str
    MessageId: str | None = None


class SnsRecord(Model):
    model_config = ConfigDict(extra="ignore")

    Sns: SnsMessage


class SnsEnvelope(Model):
    model_config = ConfigDict(extra="ignore")

    Records: Annotated[list[SnsRecord], Field(min_length=1)]


def parse_alert_messages(event: Mapping[str, Any], *, now: datetime | None = None) -> list[AlertEvent]:
    """The validated alert messages of an SNS event (every record, or InvalidEventError for the lot);
    a message timed more than MAX_CLOCK_SKEW after `now` (by default the current time) is invalid."""
    try:
        envelope = SnsEnvelope.model_validate(check_event(event))
    except ValidationError as exc:
        raise InvalidEventError(f"not an SNS event: {reason(exc, SnsEnvelope)}") from None
    latest = latest_allowed(now)
    messages = []
    for number, record in enumerate(envelope.Records):
        try:
            body = inputs.loads(record.Sns.Message)
        except inputs.TooDeepError as exc:
            raise InvalidEventError(f"record {number}: the message is {exc}") from None
        except ValueError:
            raise InvalidEventError(f"record {number}: the message is not JSON") from None
        if not isinstance(body, dict):
            raise InvalidEventError(f"record {number}: the message is not a JSON object")
        try:
            message = AlertEvent.model_validate(body)
        except ValidationError as exc:
            raise InvalidEventError(f"record {number}: invalid alert message: {reason(exc, AlertEvent)}") from None
        check_storable(message.model_dump(), f"record {number}: invalid alert message")
        check_not_ahead(message.model_dump(), f"record {number}: invalid alert message", latest)
        messages.append(message)
    return messages

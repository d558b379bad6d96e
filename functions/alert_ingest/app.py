"""Alert ingest function: alert messages from the SNS topic, through the alert lifecycle, pushed on `alerts`.

Every record is validated before any is applied; an invalid one fails the invocation (Lambda retries
it twice, then AlertIngestDeadLetterQueue) and nothing is written.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
from typing import Any

from alphapulse.core.claims import lease_of
from alphapulse.core.observability import get_logger
from alphapulse.ingest.logic import alerts as ingest
from alphapulse.ingest.models.alerts import parse_alert_messages
from alphapulse.ingest.models.checks import InvalidEventError
from alphapulse.ingest.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    try:
        messages = parse_alert_messages(event)
    except InvalidEventError as exc:
        logger.error("invalid alert message rejected", extra={"reason": str(exc)})
        raise
    deps = dependencies()
    pushed = 0
    for message in messages:
        pushes = ingest.ingest_alert(
            message, deps.alerts, deps.publish, changed=deps.changed, lease_seconds=lease_of(context)
        )
        pushed += len(pushes)
    logger.info("alert messages applied", extra={"messages": len(messages), "pushed": pushed})
    return {"pushed": pushed}


startup.done()

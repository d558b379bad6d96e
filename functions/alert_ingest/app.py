"""Alert ingest function: alert messages from the SNS topic, through the alert lifecycle, pushed on `alerts`.

Every record is validated before any is applied; an invalid one fails the invocation (Lambda retries
it twice, then AlertIngestDeadLetterQueue) and nothing is written.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from alphapulse import ingest
from alphapulse.config import get_settings
from alphapulse.models.events import InvalidEventError, parse_alert_messages
from alphapulse.observability import get_logger
from alphapulse.repositories.alerts import AlertRepository


@lru_cache(maxsize=1)
def alerts(table: str) -> AlertRepository:
    return AlertRepository(table)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from alphapulse import broadcast

    logger = get_logger()
    try:
        messages = parse_alert_messages(event)
    except InvalidEventError as exc:
        logger.error("invalid alert message rejected", extra={"reason": str(exc)})
        raise
    store = alerts(get_settings().require_data_table())
    pushed = 0
    for message in messages:
        pushes = ingest.ingest_alert(message, store, broadcast.publish, lease_seconds=ingest.lease_of(context))
        pushed += len(pushes)
    logger.info("alert messages applied", extra={"messages": len(messages), "pushed": pushed})
    return {"pushed": pushed}

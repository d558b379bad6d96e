"""Ingest function: the trading engine's EventBridge events, stored once and pushed once (DESIGN section 6).

An invalid event raises InvalidEventError: Lambda retries it twice (it cannot be told not to) and
then puts it, with the error, on IngestDeadLetterQueue. Nothing is written for it.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
from typing import Any

from alphapulse.core.claims import lease_of
from alphapulse.core.observability import get_logger
from alphapulse.ingest.logic import trading as ingest
from alphapulse.ingest.models.checks import InvalidEventError
from alphapulse.ingest.models.trading import parse_trading_event
from alphapulse.ingest.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    logger.set_correlation_id(event.get("id") if isinstance(event, dict) else None)
    try:
        detail = parse_trading_event(event)
    except InvalidEventError as exc:
        logger.error("invalid event rejected", extra={"reason": str(exc)})
        raise
    deps = dependencies()
    pushes = ingest.ingest_trading_event(
        detail, deps.stores, deps.publish, changed=deps.changed, lease_seconds=lease_of(context)
    )
    logger.info("event ingested", extra={"tenant_id": detail.tenant_id, "pushed": len(pushes)})
    return {"pushed": len(pushes)}


startup.done()

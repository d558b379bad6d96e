"""Rules function: MetricsReported and SystemStatusReported against the tenant's alert rules; alert
messages out on the SNS topic, where the alert ingest function applies them like any other.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
from typing import Any

from alphapulse.alerts.logic import engine
from alphapulse.alerts.wiring import dependencies
from alphapulse.core.claims import lease_of
from alphapulse.core.observability import get_logger
from alphapulse.ingest.models.checks import InvalidEventError
from alphapulse.ingest.models.trading import MetricsReported, SystemStatusReported, parse_trading_event


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    logger.set_correlation_id(event.get("id") if isinstance(event, dict) else None)
    try:
        detail = parse_trading_event(event)
        if not isinstance(detail, MetricsReported | SystemStatusReported):
            raise InvalidEventError("the rules engine evaluates MetricsReported and SystemStatusReported only")
    except InvalidEventError as exc:
        logger.error("invalid event rejected", extra={"reason": str(exc)})
        raise
    deps = dependencies()
    sent = engine.evaluate_report(
        detail, deps.rules, deps.rule_states, deps.topic.publish, lease_seconds=lease_of(context)
    )
    logger.info("rules evaluated", extra={"tenant_id": detail.tenant_id, "published": len(sent)})
    return {"published": len(sent)}


startup.done()

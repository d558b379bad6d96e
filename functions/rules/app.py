"""Rules function: MetricsReported and SystemStatusReported against the tenant's alert rules; alert
messages out on the SNS topic, where the alert ingest function applies them like any other.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from alphapulse import ingest, rules_engine
from alphapulse.config import get_settings
from alphapulse.models.events import InvalidEventError, MetricsReported, SystemStatusReported, parse_trading_event
from alphapulse.observability import get_logger
from alphapulse.repositories.alert_topic import AlertTopic
from alphapulse.repositories.alerts import RuleRepository, RuleStateRepository


@lru_cache(maxsize=1)
def stores(table: str, topic_arn: str) -> tuple[RuleRepository, RuleStateRepository, AlertTopic]:
    return RuleRepository(table), RuleStateRepository(table), AlertTopic(topic_arn)


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
    settings = get_settings()
    rules, states, topic = stores(settings.require_data_table(), settings.require("alerts_topic_arn"))
    sent = rules_engine.evaluate_report(detail, rules, states, topic.publish, lease_seconds=ingest.lease_of(context))
    logger.info("rules evaluated", extra={"tenant_id": detail.tenant_id, "published": len(sent)})
    return {"published": len(sent)}

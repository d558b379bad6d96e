"""One or more shards of a large fan-out, from the fan-out queue (SQS, partial batch responses).

A shard that could not be finished (connections still throttled, the management API or DynamoDB
unreachable) is reported in `batchItemFailures` and comes back after the queue's visibility timeout;
after 5 receives it lands in the fan-out DLQ. A malformed shard goes the same way.
"""

from __future__ import annotations

from typing import Any

from alphapulse.core.observability import get_logger
from alphapulse.realtime.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    logger.append_keys(function_request_id=context.aws_request_id)
    failures = []
    for record in event.get("Records", []):
        message_id = record["messageId"]
        try:
            report = dependencies().broadcaster.deliver_shard(record["body"])
        except Exception:
            logger.exception("fan-out shard failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            continue
        if report.failed:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}

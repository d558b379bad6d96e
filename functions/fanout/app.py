"""Shards of large fan-outs, from the fan-out queue (SQS FIFO, a message group per channel and connection
bucket, partial batch responses).

A shard that could not be finished (a connection neither reached nor closed, the management API or
DynamoDB unreachable) is reported in `batchItemFailures` with every later record of its group, so the group
comes back in order after the queue's visibility timeout; delivered again, it skips the connections it was
done with. After 5 receives it lands in the fan-out DLQ. A malformed shard goes the same way.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
from typing import Any

from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic.publisher import Record
from alphapulse.realtime.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    logger.append_keys(function_request_id=context.aws_request_id)
    failures, held = [], set()
    for record in (Record.of(raw) for raw in event.get("Records", [])):
        if record.group in held:  # a record before it failed: it must not overtake it
            failures.append({"itemIdentifier": record.message_id})
            continue
        try:
            finished = not dependencies().broadcaster.deliver_shard(record.body).failed
        except Exception:
            logger.exception("fan-out shard failed", extra={"message_id": record.message_id})
            finished = False
        if not finished:
            failures.append({"itemIdentifier": record.message_id})
            held.add(record.group)
    return {"batchItemFailures": failures}


startup.done()

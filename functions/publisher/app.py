"""The publisher: every push and every subscription's catch-up, from the push queue (SQS FIFO, one message
group per (tenant, channel), partial batch responses). `realtime.logic.publisher` says how order is kept.

A record that fails comes back, with the rest of its group, after the queue's visibility timeout; after 5
receives the group's records land in the push DLQ.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
from typing import Any

from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic.publisher import Record, process
from alphapulse.realtime.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_logger().append_keys(function_request_id=context.aws_request_id)
    deps = dependencies()
    records = [Record.of(record) for record in event.get("Records", [])]
    failed = process(
        records,
        deps.broadcaster,
        deps.catch_ups,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


startup.done()

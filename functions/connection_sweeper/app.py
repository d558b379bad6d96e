"""Every minute (EventBridge schedule): closes the WebSocket connections whose lifetime has ended.

No FastAPI and no AWS SDK: DynamoDB through our own client, the management API signed with alphapulse.aws.sigv4.
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
import time
from typing import Any

from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic import sweeper
from alphapulse.realtime.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_logger().append_keys(function_request_id=context.aws_request_id, correlation_id=event.get("id"))
    deps = dependencies()
    report = sweeper.sweep(deps.connections, deps.sweeper_fanout, now=int(time.time()))
    return {"tenants": report.tenants, "closed": report.closed, "failed": report.failed, "more": report.more}


startup.done()

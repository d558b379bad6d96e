"""Every minute (EventBridge schedule): closes the WebSocket connections whose lifetime has ended.

No FastAPI and no AWS SDK: DynamoDB through our own client, the management API signed with alphapulse.sigv4.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from alphapulse import sweeper
from alphapulse.broadcast import Fanout
from alphapulse.config import get_settings
from alphapulse.management_api import ManagementApiClient
from alphapulse.observability import get_logger
from alphapulse.repositories.connections import ConnectionRepository


@lru_cache(maxsize=1)
def stores() -> tuple[ConnectionRepository, Fanout]:
    settings = get_settings()
    connections = ConnectionRepository(settings.require("connections_table"))
    api = ManagementApiClient.from_environment(settings.require("websocket_endpoint"))
    return connections, Fanout(api, connections, concurrency=sweeper.SWEEP_CONCURRENCY)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_logger().append_keys(function_request_id=context.aws_request_id, correlation_id=event.get("id"))
    connections, fanout = stores()
    report = sweeper.sweep(connections, fanout, now=int(time.time()))
    return {"tenants": report.tenants, "closed": report.closed, "failed": report.failed, "more": report.more}

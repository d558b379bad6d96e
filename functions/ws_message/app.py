"""WebSocket frames: subscribe (resume, current state), unsubscribe, ping, and $default (malformed
frames and unknown actions). Every reply goes through the management API; none closes the connection.

No FastAPI and no AWS SDK on this path (cold start); the portfolio state's models are imported only
when a client subscribes to `portfolio` or `system`.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache, partial
from typing import Any

from alphapulse import snapshots
from alphapulse.config import get_settings
from alphapulse.management_api import ManagementApiClient
from alphapulse.observability import get_logger
from alphapulse.repositories.connections import ChannelRepository, ConnectionRepository
from alphapulse.subscriptions import FrameHandler


@lru_cache(maxsize=1)
def frames() -> FrameHandler:
    settings = get_settings()
    table, data_table = settings.require("connections_table"), settings.require_data_table()
    return FrameHandler(
        ConnectionRepository(table),
        ChannelRepository(table),
        ManagementApiClient.from_environment(settings.require("websocket_endpoint")),
        snapshots={
            "portfolio": partial(snapshots.portfolio_state, data_table),
            "system": partial(snapshots.system_state, data_table),
        },
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    connection_id = request["connectionId"]
    get_logger().append_keys(
        correlation_id=request.get("requestId"), function_request_id=context.aws_request_id, connection_id=connection_id
    )
    body: str | bytes | None = event.get("body")
    if event.get("isBase64Encoded") and isinstance(body, str):
        try:
            body = base64.b64decode(body, validate=True)
        except binascii.Error:
            body = b"\xff"  # not a frame: answered as bad JSON
    frames().handle(connection_id, body)
    return {"statusCode": 200}

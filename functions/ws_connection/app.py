"""WebSocket $connect (ticket or token; a non-2xx answer refuses the upgrade) and $disconnect.

No FastAPI and no AWS SDK here: the connect answer is on the path of every dashboard's first
second (bench/coldstart.py measures it against the naive handler).
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
import json
import time
from typing import Any

from alphapulse.core.config import get_settings
from alphapulse.core.errors import AppError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic import connect
from alphapulse.realtime.wiring import dependencies


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    connection_id = request["connectionId"]
    get_logger().append_keys(
        correlation_id=request.get("requestId"), function_request_id=context.aws_request_id, connection_id=connection_id
    )
    deps = dependencies()
    if request.get("eventType") == "DISCONNECT":
        connect.disconnect(deps.connections, connection_id)
        return {"statusCode": 200}
    try:
        connect.connect(
            deps.connections,
            deps.tickets,
            connection_id,
            event.get("queryStringParameters"),
            now=int(time.time()),
            max_lifetime=get_settings().ws_max_connection_seconds,
        )
    except AppError as exc:
        get_logger().info("connection refused", extra={"status": exc.status_code, "reason": exc.detail})
        return {"statusCode": exc.status_code, "body": json.dumps({"detail": exc.detail})}
    return {"statusCode": 200}


startup.done()

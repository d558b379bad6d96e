"""WebSocket frames: subscribe, unsubscribe, ping, and $default (malformed frames and unknown actions).
Every reply goes through the management API; none closes the connection. A subscribe's catch-up (resume,
current state) is queued for the publisher function, in its channel's turn.

No FastAPI on this path (cold start); botocore is imported at the first subscribe (its SQS send).
"""

from __future__ import annotations

from alphapulse.aws import startup  # first: no garbage collection during init

# isort: split
import base64
import binascii
from typing import Any

from alphapulse.core.observability import get_logger
from alphapulse.realtime.wiring import dependencies


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
    dependencies().frames.handle(connection_id, body)
    return {"statusCode": 200}


startup.done()

"""A small client of the API Gateway WebSocket management API (`@connections`), signed with SigV4.

Why not botocore: the WebSocket functions' cold start (docs/decisions.md). It is built like
`alphapulse.aws.dynamodb`: http.client, one keep-alive connection per thread (so a pool of N
threads holds N connections: the pool size is the concurrency), signing from `alphapulse.aws.sigv4`.

- POST   {stage}/@connections/{id}  send a message (`post_to_connection`)
- GET    {stage}/@connections/{id}  the connection's details (`get_connection`)
- DELETE {stage}/@connections/{id}  close it (`delete_connection`)

The endpoint is `https://{api}.execute-api.{region}.amazonaws.com/{stage}` in AWS and
`http://127.0.0.1:<ws port>` (no stage) in the local stack. Throttling (429), server errors and
broken connections are retried with exponential backoff and full jitter; 410 Gone, 413 and 403
are not.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from alphapulse.aws.sigv4 import Credentials, NoCredentialsError, SignedEndpoint, full_jitter

SERVICE = "execute-api"
REQUEST_ATTEMPTS = 4
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway refuses larger messages with 413


class ManagementApiError(Exception):
    """An error answer of the management API, or none at all (`status` 0) after the retries."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"management API answered {status}: {message}" if status else message)
        self.status = status


class GoneError(ManagementApiError):
    """410: the connection is closed or never existed."""


class MessageTooLargeError(ManagementApiError):
    """413: the message is larger than API Gateway accepts."""


class LimitExceededError(ManagementApiError):
    """429: still throttled after the retries."""


_ERRORS: dict[int, type[ManagementApiError]] = {410: GoneError, 413: MessageTooLargeError, 429: LimitExceededError}


class ManagementApiClient:
    """Thread-safe (one keep-alive connection per thread)."""

    def __init__(
        self,
        *,
        endpoint: str,
        region: str,
        credentials: Callable[[], Credentials] | None = None,
        timeout: float = 5.0,
        max_attempts: int = REQUEST_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.region = region
        self._endpoint = SignedEndpoint(endpoint, region=region, service=SERVICE, credentials=credentials,
                                        timeout=timeout)  # fmt: skip
        self._max_attempts = max_attempts
        self._sleep = sleep

    @classmethod
    def from_environment(cls, endpoint: str) -> ManagementApiClient:
        """A client of `endpoint` (settings.websocket_endpoint) in the function's region."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise ManagementApiError(0, "AWS_REGION is not set")
        return cls(endpoint=endpoint, region=region)

    def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send `data` as one message to the connection."""
        self._call("POST", connection_id, data)

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        """`connectedAt`, `lastActiveAt` and `identity` of an open connection (GoneError when closed)."""
        payload = self._call("GET", connection_id, b"")
        document: dict[str, Any] = json.loads(payload) if payload else {}
        return document

    def delete_connection(self, connection_id: str) -> None:
        """Close the connection (GoneError when it is closed already)."""
        self._call("DELETE", connection_id, b"")

    def _call(self, method: str, connection_id: str, body: bytes) -> bytes:
        path = f"{self._endpoint.base_path}/@connections/{quote(connection_id, safe='')}"
        for attempt in range(1, self._max_attempts + 1):
            try:
                status, payload = self._send(method, path, body)
            except NoCredentialsError as exc:
                raise ManagementApiError(0, str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                if attempt == self._max_attempts:
                    raise ManagementApiError(0, f"{method} @connections: {exc}") from exc
                full_jitter(attempt, sleep=self._sleep)
                continue
            if status < 300:
                return payload
            retryable = status == 429 or status >= 500
            if not retryable or attempt == self._max_attempts:
                raise _ERRORS.get(status, ManagementApiError)(status, _message(payload))
            full_jitter(attempt, sleep=self._sleep)
        raise ManagementApiError(0, "retries exhausted")  # not reached

    def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"content-type": "application/json"} if body else {}
        status, payload, _ = self._endpoint.request(method, path, body, headers)
        return status, payload


def _message(payload: bytes) -> str:
    try:
        document = json.loads(payload)
    except ValueError:
        return payload[:200].decode("utf-8", "replace")
    return str(document.get("message") or document.get("Message") or "") if isinstance(document, dict) else ""

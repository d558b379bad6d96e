"""A small SQS client for sending messages (the JSON protocol over HTTP(S), signed with SigV4).

Why not botocore: every push goes through the push queue, from ingest, the alerts routes and each
subscribe frame, and importing botocore and building a client costs hundreds of milliseconds of the
first push of each container (docs/decisions.md). It is built like `alphapulse.aws.dynamodb`:
http.client, one keep-alive connection per thread, signing from `alphapulse.aws.sigv4`. Throttling,
server errors and broken connections are retried with backoff and full jitter.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from alphapulse.aws.sigv4 import Credentials, NoCredentialsError, SignedEndpoint, full_jitter

CONTENT_TYPE = "application/x-amz-json-1.0"
REQUEST_ATTEMPTS = 3
RETRYABLE_CODES = frozenset({"ThrottlingException", "RequestThrottled", "ServiceUnavailable", "InternalError"})


class SqsError(Exception):
    """SQS refused the request (`code`), or could not be reached after the retries (`code` empty)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"SQS: {code}: {message}" if code else f"SQS: {message}")
        self.code = code


class SqsClient:
    """Thread-safe; `send_message` takes botocore's parameters and returns its answer."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        credentials: Callable[[], Credentials] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._endpoint = SignedEndpoint(endpoint_url or f"https://sqs.{region}.amazonaws.com", region=region,
                                        service="sqs", credentials=credentials, timeout=timeout)  # fmt: skip

    @classmethod
    def from_environment(cls) -> SqsClient:
        """Region, endpoint and credentials as botocore would find them in the environment."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise SqsError("", "AWS_REGION is not set")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
        return cls(region=region, endpoint_url=endpoint)

    def send_message(self, **params: Any) -> dict[str, Any]:
        """SendMessage (QueueUrl, MessageBody, and MessageGroupId, MessageDeduplicationId or DelaySeconds)."""
        if not urlsplit(str(params.get("QueueUrl", ""))).path.strip("/"):
            raise SqsError("InvalidAddress", "QueueUrl is not a queue's URL")
        return self.call("SendMessage", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        headers = {"content-type": CONTENT_TYPE, "x-amz-target": f"AmazonSQS.{operation}"}
        for attempt in range(1, REQUEST_ATTEMPTS + 1):
            try:
                status, payload, _ = self._endpoint.request("POST", "/", body, headers)
            except NoCredentialsError as exc:
                raise SqsError("", str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                if attempt == REQUEST_ATTEMPTS:
                    raise SqsError("", f"{operation}: {exc}") from exc
                full_jitter(attempt)
                continue
            document: dict[str, Any] = json.loads(payload) if payload else {}
            if status < 300:
                return document
            code = str(document.get("__type", "UnknownError")).rsplit("#", 1)[-1]
            retryable = status >= 500 or code in RETRYABLE_CODES
            if not retryable or attempt == REQUEST_ATTEMPTS:
                raise SqsError(code, str(document.get("message") or document.get("Message") or status))
            full_jitter(attempt)
        raise SqsError("", f"{operation}: retries exhausted")  # not reached


@lru_cache(maxsize=1)
def client() -> SqsClient:
    """The process's SQS client, created at first use and reused across invocations."""
    return SqsClient.from_environment()


def reset() -> None:
    """Forget the client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()

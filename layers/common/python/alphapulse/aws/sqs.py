"""A small SQS client for sending messages (the JSON protocol over HTTP(S), signed with SigV4).

Why not botocore: every push goes through the push queue, from ingest, the alerts routes and each
subscribe frame, and importing botocore and building a client costs hundreds of milliseconds of the
first push of each container (docs/decisions.md). Like `alphapulse.aws.dynamodb`, it is a
`sigv4.JsonServiceClient`: one keep-alive connection per thread; throttling, server errors and broken
connections retried with backoff and full jitter.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from alphapulse.aws.sigv4 import JsonServiceClient, json_error_code

REQUEST_ATTEMPTS = 3
RETRYABLE_CODES = frozenset({"ThrottlingException", "RequestThrottled", "ServiceUnavailable", "InternalError"})


class SqsError(Exception):
    """SQS refused the request (`code`), or could not be reached after the retries (`code` empty)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"SQS: {code}: {message}" if code else f"SQS: {message}")
        self.code = code


class SqsClient(JsonServiceClient):
    """Thread-safe; `send_message` takes botocore's parameters and returns its answer."""

    SERVICE = "sqs"

    @classmethod
    def unreachable(cls, message: str) -> Exception:
        return SqsError("", message)

    def send_message(self, **params: Any) -> dict[str, Any]:
        """SendMessage (QueueUrl, MessageBody, and MessageGroupId, MessageDeduplicationId or DelaySeconds)."""
        if not urlsplit(str(params.get("QueueUrl", ""))).path.strip("/"):
            raise SqsError("InvalidAddress", "QueueUrl is not a queue's URL")
        body = json.dumps(params, separators=(",", ":")).encode()
        status, document = self._post("AmazonSQS.SendMessage", body, attempts=REQUEST_ATTEMPTS,
                                      retryable_codes=RETRYABLE_CODES)  # fmt: skip
        if status < 300:
            return document
        raise SqsError(json_error_code(document), str(document.get("message") or document.get("Message") or status))


@lru_cache(maxsize=1)
def client() -> SqsClient:
    """The process's SQS client, created at first use and reused across invocations."""
    return SqsClient.from_environment()


def reset() -> None:
    """Forget the client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()

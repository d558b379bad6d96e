"""A small DynamoDB client (the JSON protocol over HTTP(S), signed with SigV4) and its attribute-value codec.

Why not botocore: importing botocore and building a DynamoDB client costs about 100 ms of
every cold start, which is a third of a REST function's first response; this client costs
about 1 ms (measurements in docs/decisions.md). It speaks the same API as botocore's client
(`client.get_item(TableName=..., Key=...)` returns the same dict), so repositories do not
care which one they hold. Signing and credentials live in `alphapulse.aws.sigv4`, shared with the
WebSocket management API client.
"""

from __future__ import annotations

import http.client
import json
import os
import uuid
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from alphapulse.aws.sigv4 import Credentials, NoCredentialsError, SignedEndpoint, full_jitter

API_VERSION = "DynamoDB_20120810"
CONTENT_TYPE = "application/x-amz-json-1.0"
REQUEST_ATTEMPTS = 3
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)

# botocore-style method names -> DynamoDB operations.
OPERATIONS = {
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
    "delete_item": "DeleteItem",
    "describe_table": "DescribeTable",
    "get_item": "GetItem",
    "put_item": "PutItem",
    "query": "Query",
    "scan": "Scan",
    "transact_get_items": "TransactGetItems",
    "transact_write_items": "TransactWriteItems",
    "update_item": "UpdateItem",
}


class DynamoDBError(Exception):
    """An error answer from DynamoDB, shaped like botocore's ClientError (`.response["Error"]["Code"]`)."""

    def __init__(self, code: str, message: str, status: int, operation: str, extra: dict[str, Any]) -> None:
        super().__init__(f"An error occurred ({code}) when calling the {operation} operation: {message}")
        self.response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
            **extra,
        }
        self.operation_name = operation


class DynamoDBConnectionError(Exception):
    """DynamoDB could not be reached after the retries."""


class DynamoDBClient:
    """Thread-safe (one keep-alive connection per thread); methods named as botocore's."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        credentials: Callable[[], Credentials] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.region = region
        self._endpoint = SignedEndpoint(endpoint_url or f"https://dynamodb.{region}.amazonaws.com", region=region,
                                        service="dynamodb", credentials=credentials, timeout=timeout)  # fmt: skip

    @classmethod
    def from_environment(cls) -> DynamoDBClient:
        """Region, endpoint and credentials as botocore would find them in the environment."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise DynamoDBConnectionError("AWS_REGION is not set")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
        return cls(region=region, endpoint_url=endpoint)

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = OPERATIONS.get(name)
        if operation is None:
            raise AttributeError(name)
        return lambda **params: self.call(operation, params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one operation, retrying throttling, server errors and broken connections with backoff.

        A transaction gets a ClientRequestToken, the same for all its retries, so a retry of one whose
        response was lost is not applied twice (DynamoDB answers it as the first, within 10 minutes).
        """
        if operation == "TransactWriteItems" and "ClientRequestToken" not in params:
            params = {**params, "ClientRequestToken": uuid.uuid4().hex}
        body = json.dumps(params, separators=(",", ":")).encode()
        for attempt in range(1, REQUEST_ATTEMPTS + 1):
            try:
                status, payload, crc = self._send(operation, body)
            except NoCredentialsError as exc:
                raise DynamoDBConnectionError(str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                if attempt == REQUEST_ATTEMPTS:
                    raise DynamoDBConnectionError(f"{operation}: {exc}") from exc
                full_jitter(attempt)
                continue
            if crc is not None and zlib.crc32(payload) != int(crc):
                self._endpoint.drop_connection()
                if attempt == REQUEST_ATTEMPTS:
                    raise DynamoDBConnectionError(f"{operation}: response failed its CRC32 check")
                full_jitter(attempt)
                continue
            document: dict[str, Any] = json.loads(payload) if payload else {}
            if status < 300:
                return document
            error = self._error(operation, status, document)
            retryable = status >= 500 or error.response["Error"]["Code"] in RETRYABLE_CODES
            if not retryable or attempt == REQUEST_ATTEMPTS:
                raise error
            full_jitter(attempt)
        raise DynamoDBConnectionError(f"{operation}: retries exhausted")  # not reached

    def _send(self, operation: str, body: bytes) -> tuple[int, bytes, str | None]:
        headers = {"content-type": CONTENT_TYPE, "x-amz-target": f"{API_VERSION}.{operation}"}
        status, payload, response_headers = self._endpoint.request("POST", "/", body, headers)
        return status, payload, response_headers.get("x-amz-crc32")

    @staticmethod
    def _error(operation: str, status: int, document: dict[str, Any]) -> DynamoDBError:
        code = str(document.get("__type", "UnknownError")).rsplit("#", 1)[-1]
        message = str(document.get("message") or document.get("Message") or "")
        extra: dict[str, Any] = {key: document[key] for key in ("CancellationReasons", "Item") if key in document}
        return DynamoDBError(code, message, status, operation, extra)


@lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    """The process's DynamoDB client (region, endpoint and credentials from the standard AWS environment),
    created at first use and reused across invocations."""
    return DynamoDBClient.from_environment()


def reset() -> None:
    """Forget the client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()


# --- attribute values: a small codec instead of boto3's TypeSerializer (importing boto3 costs cold-start time) ---

Item = dict[str, Any]


def to_attribute(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, set | frozenset) and all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)} if value else {"NULL": True}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as a Python value (numbers as int or Decimal)."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() and "." not in value else number
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    raise TypeError(f"unsupported DynamoDB type {kind}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as a DynamoDB item; None values are left out."""
    return {k: to_attribute(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> Item:
    """A DynamoDB item as a plain dict."""
    return {k: from_attribute(v) for k, v in item.items()}


def error_code(exc: Exception) -> str:
    """The AWS error code of a DynamoDBError (or botocore ClientError), or '' for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_condition_failure(exc: Exception) -> bool:
    """True when a conditional write lost (the item was not in the expected state)."""
    return error_code(exc) in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def cancellation_reasons(exc: DynamoDBError) -> list[str] | None:
    """The per-item codes of a cancelled transaction ('None' for an item that was fine), or None when
    `exc` is not a cancelled transaction."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [str(reason.get("Code", "None")) for reason in exc.response.get("CancellationReasons", [])]

"""A small DynamoDB client (the JSON protocol over HTTP(S), signed with SigV4) and its attribute-value codec.

Why not botocore: importing botocore and building a DynamoDB client costs about 100 ms of
every cold start, which is a third of a REST function's first response; this client costs
about 1 ms (measurements in docs/decisions.md). It speaks the same API as botocore's client
(`client.get_item(TableName=..., Key=...)` returns the same dict), so repositories do not
care which one they hold. Signing and credentials live in `alphapulse.aws.sigv4`, shared with the
WebSocket management API client.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from alphapulse.aws.sigv4 import JsonServiceClient, json_error_code

API_VERSION = "DynamoDB_20120810"
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


class DynamoDBClient(JsonServiceClient):
    """Thread-safe (one keep-alive connection per thread); methods named as botocore's."""

    SERVICE = "dynamodb"

    @classmethod
    def unreachable(cls, message: str) -> Exception:
        return DynamoDBConnectionError(message)

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = OPERATIONS.get(name)
        if operation is None:
            raise AttributeError(name)
        return lambda **params: self.call(operation, params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one operation, retrying throttling, server errors, corrupt answers and broken connections.

        A transaction gets a ClientRequestToken, the same for all its retries, so a retry of one whose
        response was lost is not applied twice (DynamoDB answers it as the first, within 10 minutes).
        """
        if operation == "TransactWriteItems" and "ClientRequestToken" not in params:
            params = {**params, "ClientRequestToken": uuid.uuid4().hex}
        body = json.dumps(params, separators=(",", ":")).encode()
        status, document = self._post(f"{API_VERSION}.{operation}", body, attempts=REQUEST_ATTEMPTS,
                                      retryable_codes=RETRYABLE_CODES, intact=_crc_matches)  # fmt: skip
        if status < 300:
            return document
        raise self._error(operation, status, document)

    @staticmethod
    def _error(operation: str, status: int, document: dict[str, Any]) -> DynamoDBError:
        code = json_error_code(document)
        message = str(document.get("message") or document.get("Message") or "")
        extra: dict[str, Any] = {key: document[key] for key in ("CancellationReasons", "Item") if key in document}
        return DynamoDBError(code, message, status, operation, extra)


def _crc_matches(payload: bytes, headers: Any) -> bool:
    crc = headers.get("x-amz-crc32")
    return crc is None or zlib.crc32(payload) == int(crc)


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
    if isinstance(value, bytes):
        return {"B": base64.b64encode(value).decode()}  # the JSON protocol carries binary as base64
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
    if kind == "B":
        return base64.b64decode(value)
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

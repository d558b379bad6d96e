"""DynamoDB attribute-value conversion and error translation for the repositories.

A small codec instead of boto3's TypeSerializer: importing boto3 costs cold-start time
that nothing else here needs (see docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from alphapulse.dynamodb_client import DynamoDBConnectionError, DynamoDBError
from alphapulse.errors import DataAccessError

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


@contextmanager
def storage_errors(operation: str) -> Iterator[None]:
    """Turn DynamoDB failures into DataAccessError, keeping the cause."""
    try:
        yield
    except (DynamoDBError, DynamoDBConnectionError) as exc:
        raise DataAccessError(f"storage unavailable during {operation}") from exc

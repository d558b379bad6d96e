"""Give moto's DynamoDB the per-item atomicity of the real service.

DynamoDB checks a write's condition and applies the write atomically. moto's threaded server
does not lock between the two, so two racing conditional writes can both succeed (seen as two
winners of one acknowledgement race). One lock around moto's item operations restores the
guarantee our code relies on, for the local stack and for the tests.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

OPERATIONS = (
    "get_item", "query", "scan", "put_item", "update_item", "delete_item",
    "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items",
)  # fmt: skip
_lock = threading.RLock()


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB item operations in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is None or getattr(operation, "_atomic", False):
            continue

        def locked(*args: Any, _operation: Any = operation, **kwargs: Any) -> Any:
            with _lock:
                return _operation(*args, **kwargs)

        functools.update_wrapper(locked, operation)
        locked._atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)

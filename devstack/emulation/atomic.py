"""Give moto's DynamoDB the per-item atomicity of the real service, and transactions that scale.

DynamoDB checks a write's condition and applies the write atomically. moto's threaded server
does not lock between the two, so two racing conditional writes can both succeed (seen as two
winners of one acknowledgement race). One lock around moto's item operations restores the
guarantee our code relies on, for the local stack and for the tests.

moto's TransactWriteItems deep-copies every table it touches, once per item of the transaction,
to roll back on failure: with a day of metrics stored, one transaction took seconds and the local
stack grew to gigabytes. Under the lock, keeping a copy of only the items the transaction names
gives the same rollback.

moto also ignores a transaction's ClientRequestToken. DynamoDB answers a repeated token (within
10 minutes) as the first, without applying it again, and refuses it for another request
(IdempotentParameterMismatchException): our client's retry of a transaction whose response was lost
relies on that, so the local stack does it too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from typing import Any

OPERATIONS = (
    "get_item", "query", "scan", "put_item", "update_item", "delete_item",
    "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items",
)  # fmt: skip
_lock = threading.RLock()
TOKEN_SECONDS = 600  # how long DynamoDB remembers a ClientRequestToken


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
    _roll_back_only_touched_items(DynamoDBBackend)
    _honour_client_request_tokens()


def _honour_client_request_tokens() -> None:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    respond = DynamoHandler.transact_write_items
    if getattr(respond, "_tokens", False):
        return
    answered: dict[str, tuple[str, float, Any]] = {}  # token -> (request digest, when, answer)

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return respond(self)
        digest = hashlib.sha256(json.dumps(self.body["TransactItems"], sort_keys=True).encode()).hexdigest()
        with _lock:
            now = time.monotonic()
            for old in [t for t, (_, at, _) in answered.items() if now - at > TOKEN_SECONDS]:
                del answered[old]
            if token in answered:
                seen, _, answer = answered[token]
                if seen != digest:
                    raise DynamodbException(
                        ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request.",
                    )
                return answer  # applied once already: answered as the first, changing nothing
            answer = respond(self)  # a failed transaction raises and is not remembered, as in DynamoDB
            answered[token] = (digest, now, answer)
            return answer

    functools.update_wrapper(transact_write_items, respond)
    transact_write_items._tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items


def _roll_back_only_touched_items(backend_class: Any) -> None:
    from moto.dynamodb.models.table import Table

    transact = backend_class.transact_write_items
    if getattr(transact, "_item_rollback", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            before = _touched_items(self, transact_items)
            # moto's whole-table backup becomes a no-op; the items above are the backup.
            Table.__deepcopy__ = lambda table, memo: table  # type: ignore[attr-defined]
            try:
                transact(self, transact_items)
            except Exception:
                for table_name, key, item in before:
                    if item is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, item)
                raise
            finally:
                del Table.__deepcopy__  # type: ignore[attr-defined]

    functools.update_wrapper(transact_write_items, transact)
    transact_write_items._atomic = True  # type: ignore[attr-defined]
    transact_write_items._item_rollback = True  # type: ignore[attr-defined]
    backend_class.transact_write_items = transact_write_items


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
    """(table, key, the item's attributes as stored now or None when absent) for every write."""
    import json

    before: dict[str, tuple[str, dict[str, Any], Any]] = {}
    for entry in transact_items:
        for operation, params in entry.items():
            if operation not in ("Put", "Update", "Delete") or params.get("TableName") not in backend.tables:
                continue
            table = backend.tables[params["TableName"]]
            if operation == "Put":
                names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
                key = {name: params["Item"][name] for name in names if name in params["Item"]}
            else:
                key = params.get("Key") or {}
            try:
                current = backend.get_item(params["TableName"], key)
            except Exception:  # noqa: S112 (an invalid key: moto's own validation refuses the transaction)
                continue
            stored = current.to_json()["Attributes"] if current is not None else None
            before.setdefault(
                json.dumps([params["TableName"], key], sort_keys=True), (params["TableName"], key, stored)
            )
    return list(before.values())

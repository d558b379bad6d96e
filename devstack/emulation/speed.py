"""Take the waste out of moto's server, which serves every AWS call of the local stack from one process.

Profiled under load (`py-spy` on `make run` while `bench/realtime.py` ran), the process spent most of its
time not in the services but around them; each patch keeps the answers exactly as they were:
- SQS read the clock through two datetimes for every message of every call (`unix_time`): read directly;
- EventBridge built a JSONPath parser (yacc tables) for every path of every event sent to a target: the
  parsed paths are kept;
- every request listed moto's package directory to find its service: the listing is kept;
- DynamoDB's Query sorted every item of the table, then kept the matches (O(table log table) per Query, where
  DynamoDB's cost follows the items read): a Query on the table's key reads its partition only, and an index
  Query skips that first sort. Seen in `bench/coldstart.py`, where one Query of the single data table took
  50 ms of a REST function's first call;
- a ProjectionExpression converted the whole item to plain JSON once per name projected, and re-checked the
  size of the result at every attribute: top-level names convert only their own attributes, into an item built
  as moto's deepcopy builds one (the rest, nested paths and list elements, as before);
- every answer was serialised by walking the operation's output shape, value by value: three quarters of a
  Query of 120 small items (`bench/coldstart.py`'s GET /portfolio). An item read's answer is already in its
  wire form (attribute values, counts, keys): it is encoded with `json` directly.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from typing import Any

_patched = False


def make_moto_fast() -> None:
    """Patch moto in this process (idempotent)."""
    global _patched
    if _patched:
        return
    import jsonpath_ng.ext
    from moto import backends
    from moto.sqs import models

    slow_unix_time = models.unix_time

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow_unix_time(dt)

    models.unix_time = unix_time
    models.unix_time_millis = lambda dt=None: unix_time(dt) * 1000.0
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)
    modules = list(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    _query_reads_one_partition()
    _project_converts_only_named_attributes()
    _item_reads_encode_directly()
    _patched = True


def _query_reads_one_partition() -> None:
    """moto's Query filters `all_items()` (every item of the table, sorted) and sorts what it keeps. While a
    Query runs, `all_items` of its table lists only the partition's items (same order) for a query on the
    table's key, and every item unsorted for an index query, whose own sort orders by the index's keys and the
    table's (a total order: the answer is the same)."""
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    current = threading.local()  # (table, hash key or None for an index) of the query this thread runs

    def query_items(self: Table) -> list[Any]:
        running = getattr(current, "query", None)
        if running is None or running[0] is not self:
            return all_items(self)
        # .get: the table's items are a defaultdict, which must not grow a partition for a query.
        partitions = self.items.values() if running[1] is None else [self.items.get(running[1])]
        if not self.range_key_attr:
            return [item for item in partitions if item is not None]
        found = [item for partition in partitions if partition is not None for item in partition.values()]
        return found if running[1] is None else sorted(found, key=lambda item: item.range_key)

    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if not index_name and hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        current.query = (self, None if index_name else hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            current.query = None

    functools.update_wrapper(query_items, all_items)
    functools.update_wrapper(partition_query, query)
    Table.all_items = query_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]


def _project_converts_only_named_attributes() -> None:
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.dynamo_type import Item

    project = Item.project

    def named_project(self: Item, projection_expressions: list[list[str]]) -> Item:
        if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return project(self, projection_expressions)
        deserialize = dynamo_type.deserializer.deserialize
        result = {name: deserialize(self.attrs[name].to_regular_json())
                  for [name] in projection_expressions if name in self.attrs}  # fmt: skip
        # Built as moto's deepcopy builds an item: without re-checking the size per attribute set (quadratic),
        # which a part of a stored item passes.
        projected = Item.__new__(Item)
        projected.hash_key, projected.range_key = self.hash_key, self.range_key
        projected.attrs = dynamo_type.LimitedSizeDict.__new__(dynamo_type.LimitedSizeDict)
        for name, value in dynamo_type.serializer.serialize(result)["M"].items():
            dict.__setitem__(projected.attrs, name, dynamo_type.DynamoType(value))
        return projected

    functools.update_wrapper(named_project, project)
    Item.project = named_project  # type: ignore[method-assign]


# Reads whose answers hold only attribute values, numbers and names (no timestamps, no nested nulls).
ITEM_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def _item_reads_encode_directly() -> None:
    """An item read's answer (moto's `DynamoResult`, plain JSON but for binary values, which are bytes) is
    encoded as it is, bytes as base64, as the serialiser does. Anything else, or an answer with a name its
    operation's output does not have, goes through the serialiser as before."""
    from moto import settings
    from moto.dynamodb.responses import DynamoResult

    serialise = DynamoResult.execute_result

    def encode(self: DynamoResult, context: Any) -> Any:
        operation, result = context.operation_model, self.result
        if (
            operation.name not in ITEM_READS
            or settings.PRETTIFY_RESPONSES
            or not isinstance(result, dict)
            or not result.keys() <= operation.output_shape.members.keys()
        ):
            return serialise(self, context)
        try:
            body = json.dumps(result, default=_binary)
        except TypeError:
            return serialise(self, context)
        version = context.service_model.metadata.get("jsonVersion", "1.0")
        return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body

    functools.update_wrapper(encode, serialise)
    DynamoResult.execute_result = encode  # type: ignore[method-assign]


def _binary(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not an item read's value: {type(value).__name__}")

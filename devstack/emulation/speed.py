"""Take the waste out of moto's server, which serves every AWS call of the local stack from one process.

Profiled under load (`py-spy` on `make run` while `bench/realtime.py` ran), the process spent most of its
time not in the services but around them; each patch keeps the answers exactly as they were:
- SQS read the clock through two datetimes for every message of every call (`unix_time`): read directly;
- EventBridge built a JSONPath parser (yacc tables) for every path of every event sent to a target: the
  parsed paths are kept;
- every request listed moto's package directory to find its service: the listing is kept;
- DynamoDB's Query on a table's key sorted every item of the table and kept those of the partition (O(table) per
  Query, where DynamoDB's cost follows the items read): it reads the partition only. Seen in
  `bench/coldstart.py`, where one Query of the single data table took 50 ms of a REST function's first call.
"""

from __future__ import annotations

import functools
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
    _patched = True


def _query_reads_one_partition() -> None:
    """moto's Query on the table's key filters `all_items()` (every item, sorted) by hash key: while it runs,
    `all_items` of that table lists the partition's items, in the same order. Index queries are unchanged."""
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    partition = threading.local()  # (table, hash key) of the query this thread is in

    def partition_items(self: Table) -> list[Any]:
        wanted = getattr(partition, "key", None)
        if wanted is None or wanted[0] is not self:
            return all_items(self)
        found = self.items.get(wanted[1])  # .get: the table's defaultdict must not grow a partition
        if found is None:
            return []
        if not self.range_key_attr:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)

    def one_partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition.key = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    functools.update_wrapper(partition_items, all_items)
    functools.update_wrapper(one_partition_query, query)
    Table.all_items = partition_items  # type: ignore[method-assign]
    Table.query = one_partition_query  # type: ignore[method-assign]

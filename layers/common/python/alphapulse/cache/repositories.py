"""The response cache's items: entries and leases in the cache table (CACHE_TABLE; TTL attribute `expires_at`,
epoch seconds), and each tenant's domain versions in the data table (DATA_TABLE), beside the data they version.

| table | item | pk | sk | TTL |
|---|---|---|---|---|
| data | a tenant's domain versions | `T#<t>#CACHE` | `VERSIONS` | - |
| cache | a cached response, and the lease of its next computation | `T#<t>#ENTRY#<digest>` | `ENTRY` | below |

The versions item holds a number per domain (`trades`…) and its last change (`trades_ms`). A lookup is one
BatchGetItem: the versions strongly consistent, the entry eventually consistent (half the read units). An entry
read stale is safe: it records the versions it was computed at, and those are checked against the consistent
ones.

`<digest>` is that of the request. An entry expires at its computation + the route's TTL. Its lease
(`lease_until_ms`) lives on the same item, so that storing the new entry, which replaces the item, also ends the
lease: a miss writes twice (take the lease, store), not three times. While the lease is held the item expires with
it. An item that holds only a lease has no `body` and is no entry.
"""

from __future__ import annotations

import zlib
from typing import Any

from alphapulse.aws.dynamodb import DynamoDBClient, from_item, to_item
from alphapulse.cache.models import Entry, Versions
from alphapulse.core import keys
from alphapulse.core.storage import TableRepository, storage_errors

CACHE, VERSIONS, ENTRY = "CACHE", "VERSIONS", "ENTRY"
CHANGED_SUFFIX = "_ms"
MAX_BODY_BYTES = 350 * 1024  # an item holds 400 KB


def _versions_key(tenant_id: str) -> dict[str, Any]:
    return to_item({"pk": keys.tenant_key(tenant_id, CACHE), "sk": VERSIONS})


def _entry_key(tenant_id: str, digest: str) -> dict[str, Any]:
    return to_item({"pk": keys.tenant_key(tenant_id, ENTRY, digest), "sk": ENTRY})


class CacheRepository(TableRepository):
    """Entries and their leases (the cache table) and versions (`versions_table`, the data table) of one tenant at
    a time."""

    def __init__(self, table: str, versions_table: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(table, client)
        self.versions_table = versions_table

    def lookup(self, tenant_id: str, digest: str) -> tuple[Versions, Entry | None]:
        """The tenant's versions (strongly consistent) and the entry (eventually), in one round trip."""
        request: dict[str, Any] = {
            self.versions_table: {"Keys": [_versions_key(tenant_id)], "ConsistentRead": True},
            self.table: {"Keys": [_entry_key(tenant_id, digest)], "ConsistentRead": False},
        }
        found: dict[str, list[dict[str, Any]]] = {self.versions_table: [], self.table: []}
        with storage_errors("read the cache"):
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for table, items in response.get("Responses", {}).items():
                    found[table].extend(items)
                request = response.get("UnprocessedKeys") or {}
        versions = from_item(found[self.versions_table][0]) if found[self.versions_table] else {}
        entry = _entry(from_item(found[self.table][0])) if found[self.table] else None
        return _versions(versions), entry

    def entry(self, tenant_id: str, digest: str) -> Entry | None:
        with storage_errors("read a cache entry"):
            item = self.client.get_item(TableName=self.table, Key=_entry_key(tenant_id, digest),
                                        ConsistentRead=True).get("Item")  # fmt: skip
        return _entry(from_item(item)) if item else None

    def store(self, tenant_id: str, digest: str, entry: Entry) -> bool:
        """Keep the entry (compressed), in place of the item and so of any lease on it; False, and nothing
        written, when it would not fit in an item."""
        body = zlib.compress(entry.body)
        if len(body) > MAX_BODY_BYTES:
            return False
        item = {**from_item(_entry_key(tenant_id, digest)), "body": body, "etag": entry.etag,
                "versions": entry.versions, "expires_at": entry.expires_at}  # fmt: skip
        with storage_errors("store a cache entry"):
            self.client.put_item(TableName=self.table, Item=to_item(item))
        return True

    def take_lease(self, tenant_id: str, digest: str, *, now_ms: int, seconds: float) -> bool:
        """Take the right to compute the entry (a conditional update of its item, created with only the lease when
        there is none): False while another holds it. Until the new entry is stored, the item expires with the
        lease: the entry it holds, if any, is not what this caller wants."""
        until = now_ms + int(seconds * 1000)
        with storage_errors("take a cache lease"):
            taken = self.conditional(
                "update_item",
                Key=_entry_key(tenant_id, digest),
                UpdateExpression="SET lease_until_ms = :until, expires_at = :expires",
                ConditionExpression="attribute_not_exists(lease_until_ms) OR lease_until_ms < :now",
                ExpressionAttributeValues=to_item({":until": until, ":expires": until // 1000 + 1, ":now": now_ms}),
            )
        return taken is not None

    def release_lease(self, tenant_id: str, digest: str) -> None:
        """End the lease without storing an entry (the item is left as it was, or, with only the lease, to its
        expiry)."""
        with storage_errors("release a cache lease"):
            self.conditional(
                "update_item",
                Key=_entry_key(tenant_id, digest),
                UpdateExpression="REMOVE lease_until_ms",
                ConditionExpression="attribute_exists(lease_until_ms)",
            )


class VersionRepository(TableRepository):
    """Each tenant's domain versions (the data table): what writers move on."""

    def bump(self, tenant_id: str, domains: tuple[str, ...], *, now_ms: int) -> None:
        """Move the tenant's `domains` to new versions: every entry that shows them misses from now on."""
        names = {f"#d{n}": domain for n, domain in enumerate(domains)}
        names.update({f"#c{n}": domain + CHANGED_SUFFIX for n, domain in enumerate(domains)})
        adds = ", ".join(f"#d{n} :one" for n in range(len(domains)))
        sets = ", ".join(f"#c{n} = :now" for n in range(len(domains)))
        with storage_errors("invalidate the cache"):
            self.client.update_item(
                TableName=self.table,
                Key=_versions_key(tenant_id),
                UpdateExpression=f"ADD {adds} SET {sets}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({":one": 1, ":now": now_ms}),
            )


def _versions(item: dict[str, Any]) -> Versions:
    numbers = {name: int(value) for name, value in item.items() if name not in ("pk", "sk")
               and not name.endswith(CHANGED_SUFFIX)}  # fmt: skip
    changed = {name.removesuffix(CHANGED_SUFFIX): int(value) for name, value in item.items()
               if name.endswith(CHANGED_SUFFIX)}  # fmt: skip
    return Versions(numbers, changed)


def _entry(item: dict[str, Any]) -> Entry | None:
    if "body" not in item:
        return None  # a lease alone
    return Entry(zlib.decompress(item["body"]), str(item["etag"]), str(item["versions"]), int(item["expires_at"]))

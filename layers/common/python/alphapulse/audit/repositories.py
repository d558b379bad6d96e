"""Audit entries in the data table (docs/data-model.md).

An entry is `AUDIT#<t>` / `<at>#<entry_id>`: one partition per tenant, newest last, so a time window is one
key range and a page reads it backwards. The partition prefix is the audit log's alone, which lets IAM
give writers PutItem on it and the reader Query on it, and nothing else of the table.
"""

from __future__ import annotations

from typing import Any

from alphapulse.audit.models import AuditEntry
from alphapulse.aws.dynamodb import from_item, to_item
from alphapulse.core import keys
from alphapulse.core.pagination import query_page
from alphapulse.core.storage import TableRepository, storage_errors
from alphapulse.core.times import iso

AUDIT = "AUDIT"
KEY_ATTRIBUTES = ("pk", "sk")


def audit_partition(tenant_id: str) -> str:
    if not keys.valid_tenant_id(tenant_id):
        raise ValueError("invalid tenant id")
    return keys.key(AUDIT, tenant_id)


class AuditRepository(TableRepository):
    """Writes and pages a tenant's audit entries."""

    def put(self, entry: AuditEntry, *, expires_at: int) -> None:
        """Store a new entry (its id is unique: an entry is never overwritten)."""
        item = {
            "pk": audit_partition(entry.tenant_id),
            "sk": keys.key(iso(entry.at), entry.entry_id),
            **entry.model_dump(mode="json", exclude_none=True),
            "at": iso(entry.at),
            "expires_at": expires_at,
        }
        with storage_errors("put audit entry"):
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )

    def list(
        self,
        tenant_id: str,
        *,
        start: str,
        end: str,
        actor: str | None,
        action: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[AuditEntry], dict[str, Any] | None]:
        """Up to `limit` entries at [start, end] (fixed-width ISO strings), newest first, optionally of one actor
        and/or one action (filters); the second value continues after the page, None on the last one."""
        values: dict[str, Any] = {":pk": audit_partition(tenant_id), ":start": start, ":end": end + "~"}
        names: dict[str, str] = {}
        conditions = []
        for name, value in (("actor", actor), ("action", action)):
            if value is not None:
                names[f"#{name}"] = name
                values[f":{name}"] = value
                conditions.append(f"#{name} = :{name}")
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
            "ScanIndexForward": False,
            "ExpressionAttributeValues": to_item(values),
        }
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
            request["ExpressionAttributeNames"] = names
        with storage_errors("list audit entries"):
            items, last_key = query_page(
                self.client.query, request, limit=limit, start_key=start_key, key_attributes=KEY_ATTRIBUTES
            )
        return [AuditEntry.model_validate(from_item(item)) for item in items], last_key

"""Refresh-token families (`SESSION#<id>`) and single-use WebSocket tickets (`TICKET#<digest>`).

Both live in the auth table and expire through its TTL attribute `expires_at` (epoch seconds).
"""

from __future__ import annotations

from typing import Any

from alphapulse import keys
from alphapulse.dynamo import Item, from_item, storage_errors, to_item
from alphapulse.repositories.base import TableRepository

SESSION = "SESSION"
TICKET = "TICKET"


class SessionRepository(TableRepository):
    """Refresh families: which refresh token is current, and whether the family is revoked."""

    def start(self, session_id: str, *, username: str, tenant_id: str, jti: str, now: int, expires_at: int) -> None:
        """Record a new family whose current refresh token is `jti`."""
        item = {
            "pk": keys.session_key(session_id),
            "sk": SESSION,
            "username": username,
            "tenant_id": tenant_id,
            "current_jti": jti,
            "revoked": False,
            "created_at": now,
            "expires_at": expires_at,
        }
        with storage_errors("start session"):
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, session_id: str) -> Item | None:
        """The family, or None when unknown or expired away."""
        with storage_errors("get session"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": keys.session_key(session_id), "sk": SESSION}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def rotate(self, session_id: str, *, old_jti: str, new_jti: str, expires_at: int) -> bool:
        """Make `new_jti` current if `old_jti` still is and the family is live; False if it lost."""
        with storage_errors("rotate session"):
            rotated = self.conditional(
                "update_item",
                Key=to_item({"pk": keys.session_key(session_id), "sk": SESSION}),
                UpdateExpression="SET current_jti = :new, expires_at = :exp",
                ConditionExpression="current_jti = :old AND revoked = :false",
                ExpressionAttributeValues=to_item(
                    {":new": new_jti, ":old": old_jti, ":exp": expires_at, ":false": False}
                ),
            )
        return rotated is not None

    def revoke(self, session_id: str) -> None:
        """Revoke the family (idempotent; an unknown family stays unknown)."""
        with storage_errors("revoke session"):
            self.conditional(
                "update_item",
                Key=to_item({"pk": keys.session_key(session_id), "sk": SESSION}),
                UpdateExpression="SET revoked = :true",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":true": True}),
            )


class TicketRepository(TableRepository):
    """Single-use WebSocket tickets, stored by the SHA-256 digest of the ticket."""

    def put(self, digest: str, grant: dict[str, Any], *, expires_at: int) -> None:
        """Store a ticket's grant (who it admits, until when)."""
        item = {"pk": keys.ticket_key(digest), "sk": TICKET, **grant, "expires_at": expires_at}
        with storage_errors("store ticket"):
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )

    def consume(self, digest: str) -> Item | None:
        """Delete the ticket and return its grant; None when it was never issued or already used."""
        with storage_errors("consume ticket"):
            response = self.conditional(
                "delete_item",
                Key=to_item({"pk": keys.ticket_key(digest), "sk": TICKET}),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        return from_item(response["Attributes"]) if response else None

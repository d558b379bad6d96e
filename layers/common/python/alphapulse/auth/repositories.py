"""The auth table (docs/data-model.md): users, refresh-token families, WebSocket tickets and failed-login counters.

- user: `USER#<username>` / `PROFILE`, listed per tenant through the `gsi1` index;
- refresh family: `SESSION#<id>` / `SESSION`;
- WebSocket ticket: `TICKET#<sha256(ticket)>` / `TICKET`, single use;
- failed logins: `LOGIN#<sha256(username)>` / `FAILURES`, in fixed windows.

Sessions, tickets and counters expire through the TTL attribute `expires_at` (epoch seconds).
"""

from __future__ import annotations

import hashlib
from typing import Any

from alphapulse.auth.models import User
from alphapulse.aws.dynamodb import Item, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.errors import ConflictError, DataAccessError, NotFoundError
from alphapulse.core.storage import TableRepository, storage_errors

PROFILE = "PROFILE"
SESSION = "SESSION"
TICKET = "TICKET"
FAILURES = "FAILURES"


def user_key(username: str) -> str:
    """Users are global (a login names no tenant); the item records its tenant."""
    return keys.key("USER", username)


def tenant_users_key(tenant_id: str) -> str:
    """Partition of the users index that lists one tenant's users."""
    return keys.tenant_key(tenant_id, "USERS")


def session_key(session_id: str) -> str:
    """A refresh-token family."""
    return keys.key("SESSION", session_id)


def ticket_key(ticket_digest: str) -> str:
    """A WebSocket ticket, stored by the digest of its value."""
    return keys.key("TICKET", ticket_digest)


def login_failures_key(username: str) -> str:
    """The failed-login counter of any attempted username, existing or not, keyed by its digest."""
    return keys.key("LOGIN", hashlib.sha256(username.encode("utf-8")).hexdigest())


class UserRepository(TableRepository):
    """Reads and writes users."""

    def get(self, username: str) -> User | None:
        """The user, or None."""
        with storage_errors("get user"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": user_key(username), "sk": PROFILE}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return User.model_validate(from_item(item)) if item else None

    def create(self, user: User) -> None:
        """Store a new user; ConflictError when the username is taken."""
        item = {
            "pk": user_key(user.username),
            "sk": PROFILE,
            "gsi1pk": tenant_users_key(user.tenant_id),
            "gsi1sk": user_key(user.username),
            **user.model_dump(),
        }
        with storage_errors("create user"):
            created = self.conditional("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        if created is None:
            raise ConflictError(f"User {user.username!r} already exists")

    def update(self, username: str, *, updated_at: str, **changes: Any) -> User:
        """Change fields of an existing user; NotFoundError when there is none."""
        names = {f"#f{i}": field for i, field in enumerate(changes)}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        assignments = [f"#f{i} = :v{i}" for i in range(len(changes))]
        names["#updated"] = "updated_at"
        values[":updated"] = updated_at
        assignments.append("#updated = :updated")
        with storage_errors("update user"):
            response = self.conditional(
                "update_item",
                Key=to_item({"pk": user_key(username), "sk": PROFILE}),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        if response is None:
            raise NotFoundError(f"User {username!r} not found")
        return User.model_validate(from_item(response["Attributes"]))

    def list_tenant(self, tenant_id: str) -> list[User]:
        """Every user of a tenant, by username (a Query on the index, never a Scan)."""
        with storage_errors("list users"):
            return [
                User.model_validate(from_item(item))
                for item in self.query_all(
                    IndexName="gsi1",
                    KeyConditionExpression="gsi1pk = :pk",
                    ExpressionAttributeValues=to_item({":pk": tenant_users_key(tenant_id)}),
                )
            ]


class SessionRepository(TableRepository):
    """Refresh families: which refresh token is current, and whether the family is revoked."""

    def start(self, session_id: str, *, username: str, tenant_id: str, jti: str, now: int, expires_at: int) -> None:
        """Record a new family whose current refresh token is `jti`."""
        item = {
            "pk": session_key(session_id),
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
                Key=to_item({"pk": session_key(session_id), "sk": SESSION}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def rotate(self, session_id: str, *, old_jti: str, new_jti: str, expires_at: int) -> bool:
        """Make `new_jti` current if `old_jti` still is and the family is live; False if it lost.

        The client retries a write whose response was lost, and the retry then fails its condition on our
        own write. The item at that moment tells: `new_jti` is unique to this call, so finding it current
        (and the family live) means the rotation is ours, not a race lost.
        """
        with storage_errors("rotate session"):
            rotated, seen = self.conditional_seen(
                "update_item",
                Key=to_item({"pk": session_key(session_id), "sk": SESSION}),
                UpdateExpression="SET current_jti = :new, expires_at = :exp",
                ConditionExpression="current_jti = :old AND revoked = :false",
                ExpressionAttributeValues=to_item(
                    {":new": new_jti, ":old": old_jti, ":exp": expires_at, ":false": False}
                ),
            )
        if rotated is None:
            return seen.get("current_jti") == new_jti and seen.get("revoked") is False
        return True

    def revoke(self, session_id: str) -> None:
        """Revoke the family (idempotent; an unknown family stays unknown)."""
        with storage_errors("revoke session"):
            self.conditional(
                "update_item",
                Key=to_item({"pk": session_key(session_id), "sk": SESSION}),
                UpdateExpression="SET revoked = :true",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":true": True}),
            )


class TicketRepository(TableRepository):
    """Single-use WebSocket tickets, stored by the SHA-256 digest of the ticket."""

    def put(self, digest: str, grant: dict[str, Any], *, expires_at: int) -> None:
        """Store a ticket's grant (who it admits, until when)."""
        item = {"pk": ticket_key(digest), "sk": TICKET, **grant, "expires_at": expires_at}
        with storage_errors("store ticket"):
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )

    def consume(self, digest: str) -> Item | None:
        """Delete the ticket and return its grant; None when it was never issued or already used."""
        with storage_errors("consume ticket"):
            response = self.conditional(
                "delete_item",
                Key=to_item({"pk": ticket_key(digest), "sk": TICKET}),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        return from_item(response["Attributes"]) if response else None


class LoginAttemptRepository(TableRepository):
    """Counts login attempts per username in fixed windows: a window starts at the first attempt and lasts
    `window` seconds; a successful login clears it. An attempt is counted before its password is checked,
    atomically, so concurrent attempts can never check more passwords than the limit allows."""

    def _key(self, username: str) -> dict[str, Any]:
        return to_item({"pk": login_failures_key(username), "sk": FAILURES})

    def reserve(self, username: str, *, now: int, window: int, limit: int) -> tuple[bool, int]:
        """Count one attempt if the live window has room: (True, window end), or (False, window end) when
        `limit` attempts were counted already."""
        with storage_errors("count login attempt"):
            for _ in range(3):  # at most a couple of races between "increment" and "new window"
                counted, seen = self.conditional_seen(
                    "update_item",
                    Key=self._key(username),
                    UpdateExpression="ADD failures :one",
                    ConditionExpression="window_end > :now AND failures < :limit",
                    ExpressionAttributeValues=to_item({":one": 1, ":now": now, ":limit": limit}),
                    ReturnValues="ALL_NEW",
                )
                if counted is not None:
                    return True, int(from_item(counted["Attributes"])["window_end"])
                if seen and int(seen["window_end"]) > now:
                    return False, int(seen["window_end"])  # a live window, full
                started = self.conditional(
                    "put_item",
                    Item={
                        **self._key(username),
                        **to_item({"failures": 1, "window_end": now + window, "expires_at": now + window}),
                    },
                    ConditionExpression="attribute_not_exists(pk) OR window_end <= :now",
                    ExpressionAttributeValues=to_item({":now": now}),
                )
                if started is not None:
                    return True, now + window
        raise DataAccessError("login attempt counter kept racing")

    def clear(self, username: str) -> None:
        """Forget the attempts after a successful login."""
        with storage_errors("clear login attempts"):
            self.client.delete_item(TableName=self.table, Key=self._key(username))

"""Users in the auth table: `USER#<username>` items, listed per tenant through the `gsi1` index."""

from __future__ import annotations

from typing import Any

from alphapulse import keys
from alphapulse.dynamo import from_item, storage_errors, to_item
from alphapulse.errors import ConflictError, NotFoundError
from alphapulse.models.auth import User
from alphapulse.repositories.base import TableRepository

PROFILE = "PROFILE"


class UserRepository(TableRepository):
    """Reads and writes users."""

    def get(self, username: str) -> User | None:
        """The user, or None."""
        with storage_errors("get user"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": keys.user_key(username), "sk": PROFILE}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return User.model_validate(from_item(item)) if item else None

    def create(self, user: User) -> None:
        """Store a new user; ConflictError when the username is taken."""
        item = {
            "pk": keys.user_key(user.username),
            "sk": PROFILE,
            "gsi1pk": keys.tenant_users_key(user.tenant_id),
            "gsi1sk": keys.user_key(user.username),
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
                Key=to_item({"pk": keys.user_key(username), "sk": PROFILE}),
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
                    ExpressionAttributeValues=to_item({":pk": keys.tenant_users_key(tenant_id)}),
                )
            ]

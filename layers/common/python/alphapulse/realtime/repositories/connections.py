"""WebSocket connections and the keys of the ConnectionsTable (docs/data-model.md).

| item | pk | sk | gsi1 | TTL |
|---|---|---|---|---|
| connection | `CONN#<connection_id>` | `CONN` | `T#<t>#CONNECTIONS` / `<expires_at>#<connection_id>` | expires_at |
| subscription | `T#<t>#CHANNEL#<channel>` | `SUB#<connection_id>` | - | the connection's |
| connected tenant | `CONNECTED_TENANTS` | `T#<t>` | - | last connect + 1 day |

The channel items (counter, replay log, shard progress) are `realtime.repositories.channels`'.
$connect and $disconnect know only the connection id, hence the connection's own partition.
The connected-tenant items list the tenants whose gsi1 partition the sweeper queries for expired connections.
"""

from __future__ import annotations

from typing import Any

from alphapulse.aws.dynamodb import from_item, to_item
from alphapulse.core import keys
from alphapulse.core.storage import TableRepository, storage_errors
from alphapulse.realtime.models import Connection, Subscriber
from alphapulse.realtime.protocol import CHANNELS

CONN, SUB = "CONN", "SUB"
CONNECTED_TENANTS = "CONNECTED_TENANTS"
# Far above a connection's 2 h: a tenant stays listed until every connection made before its last connect ended.
TENANT_LISTING_SECONDS = 86400


def connection_key(connection_id: str) -> dict[str, Any]:
    return to_item({"pk": keys.key(CONN, connection_id), "sk": CONN})


def channel_partition(tenant_id: str, channel: str) -> str:
    return keys.tenant_key(tenant_id, "CHANNEL", channel)


def _epoch_key(epoch: int) -> str:
    return f"{epoch:010d}"


def subscription_key(tenant_id: str, channel: str, connection_id: str) -> dict[str, Any]:
    return to_item({"pk": channel_partition(tenant_id, channel), "sk": keys.key(SUB, connection_id)})


class ConnectionRepository(TableRepository):
    """Connections: recorded at $connect, removed (with their subscriptions) at $disconnect or when found gone."""

    def put(self, connection: Connection) -> None:
        """Record a connection (API Gateway never reuses a connection id), and list its tenant as connected."""
        item = {
            "pk": keys.key(CONN, connection.connection_id),
            "sk": CONN,
            "gsi1pk": keys.tenant_key(connection.tenant_id, "CONNECTIONS"),
            "gsi1sk": keys.key(_epoch_key(connection.expires_at), connection.connection_id),
            "connection_id": connection.connection_id,
            "tenant_id": connection.tenant_id,
            "username": connection.username,
            "permissions": sorted(connection.permissions),
            "token_expires_at": connection.token_expires_at,
            "connected_at": connection.connected_at,
            "expires_at": connection.expires_at,
        }
        listed = {
            "pk": CONNECTED_TENANTS,
            "sk": keys.tenant_key(connection.tenant_id),
            "tenant_id": connection.tenant_id,
            "expires_at": connection.connected_at + TENANT_LISTING_SECONDS,
        }
        # One round trip; the listing is idempotent (the same item, a later TTL).
        with storage_errors("record connection"):
            self.batch_write([{"PutRequest": {"Item": to_item(item)}}, {"PutRequest": {"Item": to_item(listed)}}])

    def get(self, connection_id: str) -> Connection | None:
        """The connection, or None when unknown or removed."""
        with storage_errors("get connection"):
            response = self.client.get_item(
                TableName=self.table, Key=connection_key(connection_id), ConsistentRead=True
            )
        item = response.get("Item")
        return _connection(from_item(item)) if item else None

    def remove(self, connection_id: str, tenant_id: str | None = None) -> Connection | None:
        """Delete the connection and all its subscriptions (idempotent); the connection as it was, if it was.

        `tenant_id` lets the subscriptions go even when the connection item is gone already.
        """
        with storage_errors("remove connection"):
            response = self.client.delete_item(
                TableName=self.table, Key=connection_key(connection_id), ReturnValues="ALL_OLD"
            )
            old = response.get("Attributes")
            connection = _connection(from_item(old)) if old else None
            tenant = connection.tenant_id if connection else tenant_id
            if tenant is not None:
                self._delete_subscriptions(tenant, connection_id)
        return connection

    def _delete_subscriptions(self, tenant_id: str, connection_id: str) -> None:
        # Five channels: deleting every possible key is one request and needs no index.
        self.batch_write(
            [{"DeleteRequest": {"Key": subscription_key(tenant_id, channel, connection_id)}} for channel in CHANNELS]
        )

    def connected_tenants(self) -> list[str]:
        """Every tenant listed as having had a connection lately (one small partition; tenants are few)."""
        with storage_errors("list connected tenants"):
            items = self.query_all(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": CONNECTED_TENANTS}),
                ProjectionExpression="tenant_id",
            )
            return [item["tenant_id"]["S"] for item in items]

    def expired(self, tenant_id: str, now: int, *, limit: int) -> tuple[list[Subscriber], bool]:
        """Up to `limit` of the tenant's connections whose lifetime has ended, oldest first (one gsi1 page),
        and whether more may be left."""
        with storage_errors("list expired connections"):
            response = self.client.query(
                TableName=self.table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk < :next",
                # `<expires_at>#<id>` sorts below `<now + 1>` exactly when expires_at <= now.
                ExpressionAttributeValues=to_item(
                    {":pk": keys.tenant_key(tenant_id, "CONNECTIONS"), ":next": _epoch_key(now + 1)}
                ),
                ProjectionExpression="connection_id, expires_at",
                Limit=limit,
            )
        found = [Subscriber(item["connection_id"]["S"], int(item["expires_at"]["N"])) for item in response["Items"]]
        return found, "LastEvaluatedKey" in response

    def count_live(self, tenant_id: str, now: int) -> int:
        """The tenant's connections whose lifetime has not ended (expired items not yet swept are left out)."""
        total = 0
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk > :now",
            "ExpressionAttributeValues": to_item(
                {":pk": keys.tenant_key(tenant_id, "CONNECTIONS"), ":now": _epoch_key(now)}
            ),
            "Select": "COUNT",
        }
        with storage_errors("count connections"):
            while True:
                response = self.client.query(**request)
                total += int(response.get("Count", 0))
                if "LastEvaluatedKey" not in response:
                    return total
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=str(item["connection_id"]),
        tenant_id=str(item["tenant_id"]),
        username=str(item["username"]),
        permissions=frozenset(item.get("permissions") or ()),
        token_expires_at=int(item["token_expires_at"]),
        connected_at=int(item["connected_at"]),
        expires_at=int(item["expires_at"]),
    )

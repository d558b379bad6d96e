"""WebSocket connections, subscriptions, per-channel sequence counters and the replay log (ConnectionsTable).

| item | pk | sk | gsi1 | TTL |
|---|---|---|---|---|
| connection | `CONN#<connection_id>` | `CONN` | `T#<t>#CONNECTIONS` / `<expires_at>#<connection_id>` | expires_at |
| subscription | `T#<t>#CHANNEL#<channel>` | `SUB#<connection_id>` | - | the connection's |
| sequence counter (and the last batch it numbered) | `T#<t>#CHANNEL#<channel>` | `SEQ` | - | - |
| replay log entry | `T#<t>#CHANNEL#<channel>` | `LOG#<seq, 12 digits>` | - | publish + retention |
| shard progress (connections done) | `T#<t>#CHANNEL#<channel>` | `SHARD#<seq>-<digest>` | - | publish + retention |
| connected tenant | `CONNECTED_TENANTS` | `T#<t>` | - | last connect + 1 day |

A channel's subscribers are one Query of its partition (strongly consistent), never a Scan.
$connect and $disconnect know only the connection id, hence the connection's own partition.
The connected-tenant items list the tenants whose gsi1 partition the sweeper queries for expired connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alphapulse.aws import sqs
from alphapulse.aws.dynamodb import DynamoDBError, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.storage import TableRepository, storage_errors
from alphapulse.realtime.models import Connection, GoLive, LogEntry, Subscriber
from alphapulse.realtime.protocol import CHANNELS

CONN, SEQ, SUB, LOG, SHARD = "CONN", "SEQ", "SUB", "LOG", "SHARD"
CONNECTED_TENANTS = "CONNECTED_TENANTS"
# Far above a connection's 2 h: a tenant stays listed until every connection made before its last connect ended.
TENANT_LISTING_SECONDS = 86400
SEQ_DIGITS = 12


def connection_key(connection_id: str) -> dict[str, Any]:
    return to_item({"pk": keys.key(CONN, connection_id), "sk": CONN})


def channel_partition(tenant_id: str, channel: str) -> str:
    return keys.tenant_key(tenant_id, "CHANNEL", channel)


def log_sort_key(seq: int) -> str:
    return keys.key(LOG, f"{seq:0{SEQ_DIGITS}d}")


def _epoch_key(epoch: int) -> str:
    return f"{epoch:010d}"


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


def subscription_key(tenant_id: str, channel: str, connection_id: str) -> dict[str, Any]:
    return to_item({"pk": channel_partition(tenant_id, channel), "sk": keys.key(SUB, connection_id)})


class ChannelRepository(TableRepository):
    """One (tenant, channel): its sequence counter, replay log and subscribers."""

    def current_seq(self, tenant_id: str, channel: str) -> int:
        """The seq of the channel's latest push (0 before the first)."""
        with storage_errors("read channel seq"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": SEQ}),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return int(from_item(item).get("seq", 0)) if item else 0

    def take_seqs(self, tenant_id: str, channel: str, count: int, *, batch_id: str) -> int:
        """Take `count` consecutive seqs for the batch `batch_id` (atomic ADD); the first of them.

        The counter remembers the last batch it numbered and its size. A batch numbered already (its earlier
        attempt failed after this) starts at the same seq again, and the counter is set to its new end: a
        redelivered batch neither leaves a gap nor numbers its pushes twice. Only the channel's publisher (one
        message group) numbers a channel, so remembering the last batch is enough.
        """
        key = to_item({"pk": channel_partition(tenant_id, channel), "sk": SEQ})
        with storage_errors("take channel seqs"):
            taken, seen = self.conditional_seen(
                "update_item",
                Key=key,
                UpdateExpression="ADD seq :count SET batch_id = :batch, batch_size = :count",
                ConditionExpression="attribute_not_exists(batch_id) OR batch_id <> :batch",
                ExpressionAttributeValues=to_item({":count": count, ":batch": batch_id}),
                ReturnValues="UPDATED_NEW",
            )
            if taken is not None:
                return int(from_item(taken["Attributes"])["seq"]) - count + 1
            first = int(seen["seq"]) - int(seen["batch_size"]) + 1
            if int(seen["batch_size"]) != count:
                self.client.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET seq = :last, batch_size = :count",
                    ConditionExpression="batch_id = :batch",
                    ExpressionAttributeValues=to_item(
                        {":last": first + count - 1, ":count": count, ":batch": batch_id}
                    ),
                )
        return first

    def append(self, tenant_id: str, channel: str, entries: list[LogEntry], *, expires_at: int) -> None:
        """Keep pushes for replay until `expires_at` (25 per request)."""
        items = [
            {
                "pk": channel_partition(tenant_id, channel),
                "sk": log_sort_key(entry.seq),
                "seq": entry.seq,
                "message": entry.message.decode(),
                "expires_at": expires_at,
            }
            for entry in entries
        ]
        with storage_errors("append to replay log"):
            self.batch_write([{"PutRequest": {"Item": to_item(item)}} for item in items])

    def entries(self, tenant_id: str, channel: str, *, after: int, upto: int, now: int) -> list[LogEntry]:
        """The logged pushes with `after < seq <= upto`, in seq order; expired ones are left out."""
        if upto <= after:
            return []
        with storage_errors("read replay log"):
            items = list(
                self.query_all(
                    KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                    ExpressionAttributeValues=to_item(
                        {
                            ":pk": channel_partition(tenant_id, channel),
                            ":low": log_sort_key(after + 1),
                            ":high": log_sort_key(upto),
                        }
                    ),
                    ConsistentRead=True,
                )
            )
        found = (_entry(from_item(item), now) for item in items)
        return [entry for entry in found if entry is not None]

    def shard_done(self, tenant_id: str, channel: str, shard: str) -> set[str]:
        """The connections a fan-out shard (`shard`: `<first seq>-<digest of the shard>`) is done with."""
        with storage_errors("read shard progress"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": keys.key(SHARD, shard)}),
                ConsistentRead=True,
                ProjectionExpression="done",
            )
        return set(from_item(response.get("Item") or {}).get("done") or ())

    def add_shard_done(
        self, tenant_id: str, channel: str, shard: str, connection_ids: set[str], *, expires_at: int
    ) -> None:
        """Record connections a shard is done with (a set ADD: a redelivered shard recording them again is fine)."""
        if not connection_ids:
            return
        with storage_errors("record shard progress"):
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": keys.key(SHARD, shard)}),
                UpdateExpression="ADD done :ids SET expires_at = :exp",
                ExpressionAttributeValues=to_item({":ids": connection_ids, ":exp": expires_at}),
            )

    def go_live(
        self, tenant_id: str, channel: str, connection_id: str, *, live_from: int, expires_at: int, checked: bool = True
    ) -> GoLive:
        """Subscribe the connection to every push after `live_from`, if `live_from` is still the current seq
        (`checked=False`: whatever the current seq is; pushes between `live_from` and it may then be missed).

        One transaction with a check of the counter: a publish either took its seq before (then
        this fails with MOVED, and the caller replays it) or after (then its subscriber query,
        which follows its ADD, finds this subscription). Publishers skip subscriptions whose
        `live_from` is not below their seq, so nothing arrives twice. CONFLICT when DynamoDB cancelled
        the transaction because another one held an item (concurrent subscribes to the channel).
        """
        subscription = {
            "pk": channel_partition(tenant_id, channel),
            "sk": keys.key(SUB, connection_id),
            "connection_id": connection_id,
            "live_from": live_from,
            "expires_at": expires_at,
        }
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": to_item(subscription)}}]
        if checked:
            counter_check: dict[str, Any] = {
                "TableName": self.table,
                "Key": to_item({"pk": channel_partition(tenant_id, channel), "sk": SEQ}),
                "ConditionExpression": "attribute_not_exists(seq)" if live_from == 0 else "seq = :seq",
            }
            if live_from:
                counter_check["ExpressionAttributeValues"] = to_item({":seq": live_from})
            items.append({"ConditionCheck": counter_check})
        # Last, so its cancellation reason is always the last one.
        items.append(
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": connection_key(connection_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
        )
        with storage_errors("subscribe"):
            try:
                self.client.transact_write_items(TransactItems=items)
            except DynamoDBError as exc:
                reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                if len(reasons) != len(items):
                    raise
                if reasons[-1] == "ConditionalCheckFailed":
                    return GoLive.GONE
                if checked and reasons[1] == "ConditionalCheckFailed":
                    return GoLive.MOVED
                # Concurrent subscribes to one channel all check its counter: DynamoDB cancels all but one.
                if "TransactionConflict" in reasons:
                    return GoLive.CONFLICT
                raise
        return GoLive.LIVE

    def unsubscribe(self, tenant_id: str, channel: str, connection_id: str) -> None:
        with storage_errors("unsubscribe"):
            self.client.delete_item(TableName=self.table, Key=subscription_key(tenant_id, channel, connection_id))

    def subscribers(self, tenant_id: str, channel: str, seq: int) -> Iterator[Subscriber]:
        """The connections that must get push `seq`: subscribed, and live from before it (strongly consistent)."""
        with storage_errors("query subscribers"):
            for item in self.query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :sub)",
                FilterExpression="live_from < :seq",
                ExpressionAttributeValues=to_item(
                    {":pk": channel_partition(tenant_id, channel), ":sub": keys.key(SUB, ""), ":seq": seq}
                ),
                ProjectionExpression="connection_id, expires_at",
                ConsistentRead=True,
            ):
                yield Subscriber(item["connection_id"]["S"], int(item["expires_at"]["N"]))


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


def _entry(item: dict[str, Any], now: int) -> LogEntry | None:
    # DynamoDB deletes expired items within days: an entry past its TTL is treated as gone.
    if int(item.get("expires_at", 0)) <= now:
        return None
    return LogEntry(int(item["seq"]), str(item["message"]).encode())


class SqsShardQueue:
    """The fan-out queue (SQS FIFO): a connection's shards always go to the same message group."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, body: str, *, group: str, deduplication_id: str) -> None:
        """Queue one shard in its group (SQS drops the same shard queued again within five minutes)."""
        sqs.client().send_message(
            QueueUrl=self.queue_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=deduplication_id
        )


class SqsChannelQueue:
    """The push queue (SQS FIFO): one message group per (tenant, channel), so the publisher takes each channel's
    pushes and catch-ups one at a time, in the order they were sent."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, tenant_id: str, channel: str, body: str, *, deduplication_id: str) -> None:
        """Queue `body` on the channel's group. SQS drops a second send with the same `deduplication_id` within
        five minutes, so a sender retried after a lost response queues it once."""
        sqs.client().send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageGroupId=channel_partition(tenant_id, channel),
            MessageDeduplicationId=deduplication_id,
        )

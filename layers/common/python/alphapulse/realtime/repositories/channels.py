"""A channel's sequence counter, replay log, subscribers and fan-out shards (ConnectionsTable).

| item | pk | sk | TTL |
|---|---|---|---|
| sequence counter (the last batch it numbered; the shards queued per bucket) | `T#<t>#CHANNEL#<channel>` | `SEQ` | - |
| replay log entry | `T#<t>#CHANNEL#<channel>` | `LOG#<seq, 12 digits>` | publish + retention |
| subscription | `T#<t>#CHANNEL#<channel>` | `SUB#<connection_id>` | the connection's |
| shard progress (connections done) | `T#<t>#CHANNEL#<channel>` | `SHARD#<seq>-<digest>` | publish + retention |
| shards delivered (the last, per bucket) | `T#<t>#CHANNEL#<channel>` | `FANOUT` | - |

A channel's subscribers are one Query of its partition (strongly consistent), never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from alphapulse.aws.dynamodb import DynamoDBError, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.storage import TableRepository, storage_errors
from alphapulse.realtime.models import GoLive, LogEntry, Numbered, Subscriber
from alphapulse.realtime.repositories.connections import SUB, channel_partition, connection_key, subscription_key

SEQ, LOG, SHARD, FANOUT = "SEQ", "LOG", "SHARD", "FANOUT"
QUEUED, DELIVERED = "shards_queued_", "shards_delivered_"  # + the bucket: attributes of SEQ and FANOUT
SEQ_DIGITS = 12


def log_sort_key(seq: int) -> str:
    return keys.key(LOG, f"{seq:0{SEQ_DIGITS}d}")


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

    def take_seqs(self, tenant_id: str, channel: str, count: int, *, batch_id: str) -> Numbered:
        """Take `count` consecutive seqs for the batch `batch_id` (atomic ADD): the first of them, and the
        position of the last fan-out shard queued in each bucket (`record_shards_queued`), read in the same call.

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
                ReturnValues="ALL_NEW",
            )
            if taken is not None:
                counter = from_item(taken["Attributes"])
                return Numbered(int(counter["seq"]) - count + 1, _by_bucket(counter, QUEUED))
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
        return Numbered(first, _by_bucket(seen, QUEUED))

    def record_shards_queued(self, tenant_id: str, channel: str, positions: Mapping[int, int]) -> None:
        """Record the position of the last shard queued in each of these buckets (on the counter: the next
        `take_seqs` reads it). Only the channel's publisher writes them, after queueing the shards."""
        if not positions:
            return
        names = {f"#q{bucket}": f"{QUEUED}{bucket}" for bucket in positions}
        values = {f":q{bucket}": position for bucket, position in positions.items()}
        with storage_errors("record queued shards"):
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": SEQ}),
                UpdateExpression="SET " + ", ".join(f"#q{bucket} = :q{bucket}" for bucket in positions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )

    def shards_delivered(self, tenant_id: str, channel: str) -> dict[int, int]:
        """The position of the last shard delivered in each bucket (strongly consistent)."""
        with storage_errors("read delivered shards"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": FANOUT}),
                ConsistentRead=True,
            )
        return _by_bucket(from_item(response.get("Item") or {}), DELIVERED)

    def record_shard_delivered(self, tenant_id: str, channel: str, bucket: int, position: int) -> None:
        """Record that the shard at `position` of `bucket` is delivered. A bucket's shards are delivered in order
        (its FIFO message group), so the position only grows; a redelivered shard changes nothing."""
        with storage_errors("record delivered shard"):
            self.conditional(
                "update_item",
                Key=to_item({"pk": channel_partition(tenant_id, channel), "sk": FANOUT}),
                UpdateExpression="SET #d = :p",
                ConditionExpression="attribute_not_exists(#d) OR #d < :p",
                ExpressionAttributeNames={"#d": f"{DELIVERED}{bucket}"},
                ExpressionAttributeValues=to_item({":p": position}),
            )

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


def _entry(item: dict[str, Any], now: int) -> LogEntry | None:
    # DynamoDB deletes expired items within days: an entry past its TTL is treated as gone.
    if int(item.get("expires_at", 0)) <= now:
        return None
    return LogEntry(int(item["seq"]), str(item["message"]).encode())


def _by_bucket(item: Mapping[str, Any], prefix: str) -> dict[int, int]:
    return {int(name.removeprefix(prefix)): int(value) for name, value in item.items() if name.startswith(prefix)}

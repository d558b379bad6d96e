"""The push queue and the fan-out queue (SQS FIFO)."""

from __future__ import annotations

from alphapulse.aws import sqs
from alphapulse.realtime.repositories.connections import channel_partition


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

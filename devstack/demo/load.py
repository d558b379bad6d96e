"""Load for the local stack: trade pushes queued straight on the push queue at a steady rate (bench and e2e).

The EventBridge path (bus, ingest, push queue) tops out at about ten events per second on a two-core
machine, where one moto process serves every AWS call; the publisher behind the push queue numbers and
delivers ten pushes per batch. Queueing pushes as ingest does, ten per SendMessageBatch, loads one
channel well past that, to show what the publisher and a resuming client do on a busy channel.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from alphapulse.realtime.protocol import PushRequest, request_body
from alphapulse.realtime.repositories.connections import channel_partition

TRADE = {"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 100.0, "fees": 0.0, "status": "filled",
         "order_type": "market", "executed_at": "2026-12-01T00:00:00Z", "strategy": None}  # fmt: skip


class PushFeed:
    """Queues `trade` pushes on a tenant's `trades` channel at `rate` per second until stopped, on a thread."""

    def __init__(self, sqs: Any, queue_url: str, *, tenant_id: str = "default", rate: float = 100.0) -> None:
        self.sqs, self.queue_url, self.tenant_id, self.rate = sqs, queue_url, tenant_id, rate
        self.sent: list[str] = []  # trade ids, in the order queued
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-feed", daemon=True)

    def start(self) -> PushFeed:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stop queueing; the trade ids queued."""
        self._stop.set()
        self._thread.join()
        return self.sent

    @property
    def stopped(self) -> bool:
        """Stopped, and every push it queued is in `sent`."""
        return self._stop.is_set() and not self._thread.is_alive()

    def _run(self) -> None:
        group = channel_partition(self.tenant_id, "trades")
        started = time.monotonic()
        while not self._stop.is_set():
            entries = []
            for _ in range(10):
                trade_id = f"feed-{uuid.uuid4().hex[:12]}"
                push = PushRequest(self.tenant_id, "trades", "trade", {**TRADE, "trade_id": trade_id}, time.time())
                entries.append({"Id": str(len(entries)), "MessageBody": request_body(push), "MessageGroupId": group,
                                "MessageDeduplicationId": trade_id})  # fmt: skip
                self.sent.append(trade_id)
            self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            due = started + len(self.sent) / self.rate  # no drift: the rate holds over the whole run
            self._stop.wait(max(0.0, due - time.monotonic()))

"""Give moto's SQS the long polling of the real service on FIFO queues.

SQS answers a long poll as soon as a message can be handed out; on a FIFO queue, that includes a message
whose group stops being in flight (its batch was deleted or became visible again). moto's ReceiveMessage
reads the groups in flight once, when the poll starts, and waits only for new messages: a poll that
starts while a group is in flight never delivers that group, and while the group's next messages sit
visible behind it, moto's wait returns at once and the poll spins on the CPU until its time is up. With
several pollers on one busy group (Lambda's event source mapping has five), a channel's pushes waited a
second each and the local stack ran at a few pushes per second.

moto also builds a queue's attributes, which counts the state of every message in it (a clock read each),
to validate each message sent, to add it and to check each message received against the retention period:
every call grew with the backlog. Those three read only the one attribute they need here.

Here a long poll is a series of immediate receives (each reads the groups in flight afresh), with a wait
between them on the queue's own condition, which is now notified when messages are deleted or made
visible again as well as when they arrive; a wake-up waits 10 ms more, so that a burst of sends costs
one more receive, not one per message.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

_patched = False
COALESCE_SECONDS = 0.01


_reading_one_attribute = threading.local()


def _one_attribute(method: Any) -> Any:
    """`method`, during which a queue's `attributes` holds only what moto reads there without counting every
    message's state (ContentBasedDeduplication, MessageRetentionPeriod)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _reading_one_attribute.on = True
        try:
            return method(*args, **kwargs)
        finally:
            _reading_one_attribute.on = False

    return wrapper


def make_sqs_long_polling_faithful() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    global _patched
    if _patched:
        return
    from moto.sqs.models import Queue, SQSBackend

    receive = SQSBackend.receive_message

    @functools.wraps(receive)
    def receive_message(
        self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        queue = self.get_queue(queue_name)
        while True:
            result = receive(self, queue_name, count, 0, *args, **kwargs)
            left = deadline - time.monotonic()
            if result or left <= 0:
                return result
            with queue._messages_lock:
                queue._messages_lock.wait(timeout=left)
            # A burst (a batch of ten sends, each notifying) wakes the poll once, not ten times: every poll
            # scans the whole queue.
            time.sleep(min(COALESCE_SECONDS, max(0.0, deadline - time.monotonic())))

    def notifying(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                # moto's ChangeMessageVisibility names the queue by keyword
                queue = self if isinstance(self, Queue) else self.get_queue(args[0] if args else kwargs["queue_name"])
                with queue._messages_lock:
                    queue._messages_lock.notify_all()

        return wrapper

    all_attributes = Queue.attributes.fget  # type: ignore[attr-defined]

    def attributes(self: Queue) -> dict[str, Any]:
        if getattr(_reading_one_attribute, "on", False):
            return {
                "ContentBasedDeduplication": str(getattr(self, "content_based_deduplication", False)).lower(),
                "MessageRetentionPeriod": getattr(self, "message_retention_period"),  # noqa: B009 (set dynamically)
            }
        return all_attributes(self)  # type: ignore[no-any-return]

    Queue.attributes = property(attributes)  # type: ignore[method-assign, assignment]
    SQSBackend._validate_message = _one_attribute(SQSBackend._validate_message)  # type: ignore[method-assign]
    Queue.add_message = _one_attribute(Queue.add_message)  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = _one_attribute(  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period
    )
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.delete_message = notifying(Queue.delete_message)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = notifying(SQSBackend.change_message_visibility)  # type: ignore[method-assign]
    _patched = True

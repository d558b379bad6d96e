"""Give moto's SQS the long polling of the real service on FIFO queues.

SQS answers a long poll as soon as a message can be handed out; on a FIFO queue, that includes a message
whose group stops being in flight (its batch was deleted or became visible again). moto's ReceiveMessage
reads the groups in flight once, when the poll starts, and waits only for new messages: a poll that
starts while a group is in flight never delivers that group, and while the group's next messages sit
visible behind it, moto's wait returns at once and the poll spins on the CPU until its time is up. With
several pollers on one busy group (Lambda's event source mapping has five), a channel's pushes waited a
second each and the local stack ran at a few pushes per second.

moto also validates each message sent by building the queue's attributes, which counts the state of every
message in it (a clock read each): sending grew with the backlog. Validation here reads only the one
attribute it needs.

Here a long poll is a series of immediate receives (each reads the groups in flight afresh), with a wait
between them on the queue's own condition, which is now notified when messages are deleted or made
visible again as well as when they arrive; a wake-up waits 10 ms more, so that a burst of sends costs
one more receive, not one per message.
"""

from __future__ import annotations

import functools
import time
from typing import Any

_patched = False
COALESCE_SECONDS = 0.01


class _ValidationView:
    """A queue as moto's message validation reads it, without `attributes` counting every message's state."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    @property
    def attributes(self) -> dict[str, str]:
        return {"ContentBasedDeduplication": str(getattr(self._queue, "content_based_deduplication", False)).lower()}


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
                queue = self if isinstance(self, Queue) else self.get_queue(args[0])
                with queue._messages_lock:
                    queue._messages_lock.notify_all()

        return wrapper

    validate = SQSBackend._validate_message

    @functools.wraps(validate)
    def _validate_message(self: SQSBackend, queue: Queue, *args: Any, **kwargs: Any) -> Any:
        return validate(self, _ValidationView(queue), *args, **kwargs)

    SQSBackend._validate_message = _validate_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.delete_message = notifying(Queue.delete_message)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = notifying(SQSBackend.change_message_visibility)  # type: ignore[method-assign]
    _patched = True

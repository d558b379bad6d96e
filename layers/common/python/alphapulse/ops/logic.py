"""Redrive a dead-letter queue, once its cause is fixed.

An SQS dead-letter queue (a redrive policy's target: PushDeadLetterQueue, FanoutDeadLetterQueue) goes back to its
source queues through an SQS message move task. A Lambda on-failure destination (IngestDeadLetterQueue,
AlertIngestDeadLetterQueue, RulesDeadLetterQueue) holds invocation records: each event goes back to its function,
invoked synchronously; the record is deleted when the function succeeds and kept when it fails again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from alphapulse.core.observability import redact
from alphapulse.ops.models import (
    Message,
    MoveTask,
    Outcome,
    Queue,
    RedriveReport,
    parse_invocation_record,
)

# Long enough for the slowest function (15 minutes): a message taken stays hidden until this run has dealt with it.
HIDDEN_SECONDS = 900
MAX_REASON = 300


class Queues(Protocol):
    def dead_letter_sources(self, queue: Queue) -> list[str]: ...

    def depth(self, queue: Queue) -> int: ...

    def start_move(self, queue: Queue) -> None: ...

    def latest_move(self, queue: Queue) -> MoveTask: ...

    def receive(self, queue: Queue, hidden_seconds: int) -> list[Message]: ...

    def delete(self, queue: Queue, message: Message) -> None: ...

    def release(self, queue: Queue, message: Message) -> None: ...


class Functions(Protocol):
    def invoke(self, function_arn: str, payload: Any) -> str | None:
        """Run the function synchronously on `payload`: None when it succeeded, else why it failed."""
        ...


def redrive(queue: Queue, queues: Queues, functions: Functions, *, dry_run: bool = False,
            poll_seconds: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> RedriveReport:  # fmt: skip
    """Redrive `queue` the way its kind needs (module docstring); a dry run changes nothing."""
    sources = queues.dead_letter_sources(queue)
    if sources:
        return _move_back(queue, sources, queues, dry_run=dry_run, poll_seconds=poll_seconds, sleep=sleep)
    return _invoke_again(queue, queues, functions, dry_run=dry_run)


def _move_back(queue: Queue, sources: list[str], queues: Queues, *, dry_run: bool, poll_seconds: float,
               sleep: Callable[[float], None]) -> RedriveReport:  # fmt: skip
    report = RedriveReport(queue, "move task", dry_run=dry_run, sources=sources)
    if dry_run:
        report.waiting = queues.depth(queue)
        return report
    queues.start_move(queue)
    task = queues.latest_move(queue)
    while task.active:
        sleep(poll_seconds)
        task = queues.latest_move(queue)
    report.moved = task.moved
    if task.status != "COMPLETED":
        report.task_failure = f"{task.status}: {task.failure}" if task.failure else task.status
    return report


def _invoke_again(queue: Queue, queues: Queues, functions: Functions, *, dry_run: bool) -> RedriveReport:
    report = RedriveReport(queue, "invoke", dry_run=dry_run)
    kept: list[Message] = []
    seen: set[str] = set()
    while messages := [m for m in queues.receive(queue, HIDDEN_SECONDS) if m.message_id not in seen]:
        for message in messages:
            seen.add(message.message_id)
            try:
                record = parse_invocation_record(message.body)
            except ValueError as exc:
                report.failed.append(Outcome(message.message_id, "?", "message", str(exc)))
                kept.append(message)
                continue
            if dry_run:
                report.redriven.append(Outcome(message.message_id, record.function_name, record.what,
                                               _reason(record.error)))  # fmt: skip
                kept.append(message)
                continue
            error = functions.invoke(record.function_arn, record.payload)
            if error is None:
                queues.delete(queue, message)
                report.redriven.append(Outcome(message.message_id, record.function_name, record.what))
            else:
                report.failed.append(Outcome(message.message_id, record.function_name, record.what, _reason(error)))
                kept.append(message)
    for message in kept:  # visible again for the next look, not in an hour
        queues.release(queue, message)
    return report


def _reason(error: str) -> str:
    """An error as it may be shown: no token nor secret, and short."""
    text = redact(" ".join(error.split()))
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"

"""SQS message move tasks (dead-letter queue redrive) for moto, which has none.

moto 5.2.5 answers neither StartMessageMoveTask, ListMessageMoveTasks nor CancelMessageMoveTask, and forgets where a
message came from when its redrive policy moves it to the dead-letter queue. Here, as in SQS:
- a message remembers the queue it was first sent to, and ReceiveMessage reports it as `DeadLetterQueueSourceArn`
  once the message sits in another queue;
- a task moves a dead-letter queue's messages, in the background and at most MaxNumberOfMessagesPerSecond, to
  DestinationArn or else each to the queue it came from, keeping body, attributes, group and deduplication ids;
- a message sent straight to the dead-letter queue has no source to return to: the task fails
  (CouldNotDetermineMessageSource), as in SQS, with the messages moved so far moved;
- one active task per source queue; the ten most recent are listed, newest first; only a running one is cancelled.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

_patched = False
MAX_RATE = 500  # SQS's bound on MaxNumberOfMessagesPerSecond
KEPT_TASKS = 10
NO_SOURCE = "CouldNotDetermineMessageSource"


@dataclass
class MoveTask:
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    handle: str = ""
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    started: int = field(default_factory=lambda: int(time.time() * 1000))
    cancelling: threading.Event = field(default_factory=threading.Event)

    def entry(self) -> dict[str, Any]:
        """The task as ListMessageMoveTasks shows it."""
        shown: dict[str, Any] = {"Status": self.status, "SourceArn": self.source_arn,
                                 "ApproximateNumberOfMessagesMoved": self.moved,
                                 "ApproximateNumberOfMessagesToMove": self.to_move,
                                 "StartedTimestamp": self.started}  # fmt: skip
        if self.status == "RUNNING":
            shown["TaskHandle"] = self.handle
        if self.destination_arn:
            shown["DestinationArn"] = self.destination_arn
        if self.rate:
            shown["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            shown["FailureReason"] = self.failure
        return shown


def _error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _queue_of(arn: str | None, parameter: str) -> Any:
    """The queue an ARN names, or the error SQS answers."""
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    parts = (arn or "").split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        form = "arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
        raise _error("InvalidParameterValue", f"You must use this format to specify the {parameter}: {form}")
    region, account, name = parts[3], parts[4], parts[5]
    try:
        return sqs_backends[account][region].get_queue(name)
    except QueueDoesNotExist:
        raise _error(
            "ResourceNotFoundException", f"The resource that you specified for the {parameter} parameter doesn't exist."
        ) from None


def _tasks_of(backend: Any) -> dict[str, list[MoveTask]]:
    """The backend's tasks by source ARN, newest first (they go when moto resets its backends)."""
    if not hasattr(backend, "move_tasks"):
        backend.move_tasks = {}
    return backend.move_tasks  # type: ignore[no-any-return]


def _backend_of(queue: Any) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[queue.account_id][queue.region]


def start(source_arn: str, destination_arn: str | None, rate: int | None) -> MoveTask:
    """StartMessageMoveTask: checks as SQS does, then moves in a thread of its own."""
    source = _queue_of(source_arn, "SourceArn")
    backend = _backend_of(source)
    if not backend.list_dead_letter_source_queues(source.name):
        raise _error("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    if destination_arn:
        destination = _queue_of(destination_arn, "DestinationArn")
        if destination is source:
            raise _error("InvalidParameterValue", "Source queue arn and destination queue arn cannot be the same.")
        if bool(destination.fifo_queue) != bool(source.fifo_queue):
            raise _error("InvalidParameterValue", "The source and destination queues must be of the same type.")
    if rate is not None and not 1 <= int(rate) <= MAX_RATE:
        raise _error("InvalidParameterValue", f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                                              f"Reason: Must be between 1 and {MAX_RATE}, if provided.")  # fmt: skip
    tasks = _tasks_of(backend)
    with source._messages_lock:
        if any(task.status in ("RUNNING", "CANCELLING") for task in tasks.get(source.queue_arn, [])):
            raise _error("InvalidParameterValue", "There is already a task running. Only one active task is allowed "
                                                  "for a source queue arn at a given time.")  # fmt: skip
        messages = [message for message in source._messages if message.visible]
        task = MoveTask(source.queue_arn, destination_arn or None, int(rate) if rate else None, len(messages))
        identity = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source.queue_arn})
        task.handle = base64.b64encode(identity.encode()).decode()
        tasks[source.queue_arn] = [task, *tasks.get(source.queue_arn, [])][:KEPT_TASKS]
    threading.Thread(target=_move, args=(backend, source, task, messages), name="sqs-move-task", daemon=True).start()
    return task


def _move(backend: Any, source: Any, task: MoveTask, messages: list[Any]) -> None:
    pause = 1.0 / task.rate if task.rate else 0.0
    try:
        for message in messages:
            if task.cancelling.is_set():
                break
            if message not in source._messages or not message.visible:  # deleted or received since the start
                continue
            target = task.destination_arn or _origin(message)
            if target is None or target == source.queue_arn:
                task.failure = NO_SOURCE
                break
            destination = _queue_of(target, "DestinationArn")
            backend.send_message(destination.name, message.body, message_attributes=message.message_attributes,
                                 deduplication_id=message.deduplication_id, group_id=message.group_id,
                                 system_attributes=message.system_attributes)  # fmt: skip
            with source._messages_lock:
                if message in source._messages:
                    source._messages.remove(message)
                source.pending_messages.discard(message)
            task.moved += 1
            time.sleep(pause)
    except Exception as exc:  # a destination gone or refusing: the task fails, as in SQS
        task.failure = getattr(exc, "message", None) or str(exc)
    task.status = "FAILED" if task.failure else "CANCELLED" if task.cancelling.is_set() else "COMPLETED"


def _origin(message: Any) -> str | None:
    return getattr(message, "origin_arn", None)


def cancel(handle: str) -> MoveTask:
    """CancelMessageMoveTask: only a running task."""
    from moto.sqs.models import sqs_backends

    try:
        source_arn = json.loads(base64.b64decode(handle))["sourceArn"]
        _, _, _, region, account, _ = source_arn.split(":")
    except (ValueError, KeyError, TypeError):
        raise _error("ResourceNotFoundException", "Task does not exist.") from None
    tasks = _tasks_of(sqs_backends[account][region]).get(source_arn, [])
    task = next((task for task in tasks if task.handle == handle), None)
    if task is None:
        raise _error("ResourceNotFoundException", "Task does not exist.")
    if task.status != "RUNNING":
        raise _error("InvalidParameterValue", "Only active tasks can be cancelled.")
    task.status = "CANCELLING"
    task.cancelling.set()
    return task


def listed(source_arn: str, max_results: int | None) -> list[dict[str, Any]]:
    """ListMessageMoveTasks: the most recent first, one unless MaxResults (up to 10) says more."""
    source = _queue_of(source_arn, "SourceArn")
    count = 1 if max_results is None else int(max_results)
    if not 1 <= count <= KEPT_TASKS:
        raise _error("InvalidParameterValue", f"Value {count} for parameter MaxResults is invalid. "
                                              f"Reason: Must be between 1 and {KEPT_TASKS}, if provided.")  # fmt: skip
    return [task.entry() for task in _tasks_of(_backend_of(source)).get(source.queue_arn, [])[:count]]


def add_sqs_message_move_tasks() -> None:
    """Patch moto's SQS in this process (idempotent)."""
    global _patched
    if _patched:
        return
    from moto.core.responses import ActionResult
    from moto.sqs.models import Queue
    from moto.sqs.responses import SQSResponse

    add_message = Queue.add_message

    @functools.wraps(add_message)
    def remembering_add_message(self: Queue, message: Any) -> None:
        if _origin(message) is None:
            message.origin_arn = self.queue_arn  # the first queue a message enters is its source
        add_message(self, message)

    receive = SQSResponse.receive_message

    @functools.wraps(receive)
    def receive_message(self: SQSResponse) -> ActionResult:
        answer = receive(self)
        wanted = {*(self._get_param("AttributeNames") or []), *(self._get_param("MessageSystemAttributeNames") or [])}
        if not wanted & {"All", "DeadLetterQueueSourceArn"}:
            return answer
        queue = self.sqs_backend.get_queue(self._get_queue_name())
        origins = {message.id: _origin(message) for message in list(queue._messages)}
        for shown in answer.result.get("Messages", []):  # type: ignore[attr-defined]
            origin = origins.get(shown["MessageId"])
            if origin and origin != queue.queue_arn:
                shown.setdefault("Attributes", {})["DeadLetterQueueSourceArn"] = origin
        return answer

    def start_message_move_task(self: SQSResponse) -> ActionResult:
        task = start(self._get_param("SourceArn"), self._get_param("DestinationArn"),
                     self._get_param("MaxNumberOfMessagesPerSecond"))  # fmt: skip
        return ActionResult({"TaskHandle": task.handle})

    def list_message_move_tasks(self: SQSResponse) -> ActionResult:
        return ActionResult({"Results": listed(self._get_param("SourceArn"), self._get_param("MaxResults"))})

    def cancel_message_move_task(self: SQSResponse) -> ActionResult:
        return ActionResult({"ApproximateNumberOfMessagesMoved": cancel(self._get_param("TaskHandle")).moved})

    Queue.add_message = remembering_add_message  # type: ignore[method-assign]
    SQSResponse.receive_message = receive_message  # type: ignore[method-assign]
    SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
    SQSResponse.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]
    SQSResponse.cancel_message_move_task = cancel_message_move_task  # type: ignore[attr-defined]
    _patched = True

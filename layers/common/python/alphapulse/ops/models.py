"""What the operations command works on: queues, the records in Lambda's dead-letter queues, move tasks, reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ACTIVE_TASK = frozenset({"RUNNING", "CANCELLING"})


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str


@dataclass(frozen=True)
class MoveTask:
    """The latest message move task of a queue, as ListMessageMoveTasks shows it."""

    status: str
    moved: int
    to_move: int
    failure: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_TASK


@dataclass(frozen=True)
class InvocationRecord:
    """What Lambda sends to an on-failure destination: the function, its event, and why it failed."""

    function_arn: str
    payload: Any
    error: str

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":function:", 1)[-1].split(":", 1)[0]

    @property
    def what(self) -> str:
        """The event, named without its content: an EventBridge event's type and id, an SNS message's id."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        if "detail-type" in payload:
            return f"{payload['detail-type']} event {payload.get('id', '?')}"
        records = payload.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], dict) and "Sns" in records[0]:
            return f"SNS message {records[0]['Sns'].get('MessageId', '?')}"
        return "event"


def parse_invocation_record(body: str) -> InvocationRecord:
    """The record in a message of an on-failure destination queue; ValueError for anything else."""
    try:
        record = json.loads(body)
        function_arn = record["requestContext"]["functionArn"]
        payload = record["requestPayload"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a Lambda invocation record (requestContext.functionArn, requestPayload)") from exc
    if not isinstance(function_arn, str) or ":function:" not in function_arn:
        raise ValueError(f"not a function ARN: {function_arn!r}")
    response = record.get("responsePayload") if isinstance(record.get("responsePayload"), dict) else {}
    error = ": ".join(str(part) for part in (response.get("errorType"), response.get("errorMessage")) if part)
    condition = (record.get("requestContext") or {}).get("condition", "")
    return InvocationRecord(function_arn, payload, error or str(condition))


@dataclass(frozen=True)
class Outcome:
    """One message: redriven (or, in a dry run, to be), or failed again and kept."""

    message_id: str
    target: str  # the function, or the queue a move task returns messages to
    what: str
    reason: str = ""  # why it failed again; in a dry run, why it failed the first time


@dataclass
class RedriveReport:
    queue: Queue
    method: str  # "move task" (an SQS dead-letter queue) or "invoke" (a Lambda on-failure destination)
    dry_run: bool = False
    redriven: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    moved: int = 0  # a move task's count (it names no message)
    waiting: int = 0  # in a dry run of a move task: the messages a task would move
    sources: list[str] = field(default_factory=list)  # the queues a move task returns messages to
    task_failure: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.task_failure is None

"""The events Lambda hands to functions (EventBridge, scheduled rules, SNS, SQS) and its async invocation records."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Any

EVENT_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
INPUT_PATH = re.compile(r"\$(\.[\w-]+)*")
ERROR_MESSAGE_LIMIT = 1024  # Lambda puts the first 1 KB of the error on a dead-letter message


def eventbridge_event(delivered: dict[str, Any], account: str) -> dict[str, Any]:
    """The event a rule's Lambda target receives, from the copy moto delivered to an SQS target.

    moto's copy lacks `account` and carries no field order; Lambda gets exactly EVENT_KEYS.
    """
    event = {**delivered, "account": account}
    return {key: event.get(key, [] if key == "resources" else None) for key in EVENT_KEYS}


def scheduled_event(rule_arn: str, *, account: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """The event a scheduled rule gives its targets."""
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": when.isoformat().replace("+00:00", "Z"), "region": region,
            "resources": [rule_arn], "detail": {}}  # fmt: skip


RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """The period of a `rate(...)` schedule expression; ValueError for what the local stack cannot run.

    As EventBridge: a value of 1 takes the singular unit, larger values the plural.
    """
    found = RATE.fullmatch(expression.strip())
    if found is None:
        kind = "cron schedules are" if expression.strip().startswith("cron(") else f"{expression!r} is"
        raise ValueError(f"{kind} not run by the local stack (it runs rate(N minute|minutes|hour|hours|day|days))")
    value, unit = int(found["value"]), found["unit"]
    if (value == 1) != (not unit.endswith("s")):
        raise ValueError(f"{expression!r}: EventBridge wants a singular unit for 1 and a plural one above")
    return float(value * UNIT_SECONDS[unit.removesuffix("s")])


def target_input(event: dict[str, Any], *, constant: Any = None, path: str | None = None) -> Any:
    """What a rule target receives: the event, a constant `Input`, or the part `InputPath` selects."""
    if constant is not None:
        return constant
    if not path or path == "$":
        return event
    check_input_path(path)
    selected: Any = event
    for key in path[2:].split("."):
        selected = selected.get(key) if isinstance(selected, dict) else None
    return selected


def check_input_path(path: str) -> None:
    """Refuse an InputPath the local stack cannot read (it reads `$` and `$.a.b`)."""
    if not INPUT_PATH.fullmatch(path):
        raise ValueError(f"unsupported InputPath {path!r} (the local stack reads $ and $.a.b paths)")


def sns_record(envelope: dict[str, Any], subscription_arn: str, region: str) -> dict[str, Any]:
    """One record of an SNS-triggered Lambda event, from the notification SNS delivered to SQS."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            "MessageAttributes": envelope.get("MessageAttributes") or {},
        },
    }


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS-triggered Lambda event, from a boto3 ReceiveMessage message."""
    attributes = message.get("MessageAttributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _sqs_attribute(value) for name, value in attributes.items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }  # fmt: skip
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _sqs_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues") or []]
    attribute["dataType"] = value["DataType"]
    return attribute


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: Any,
    response: Any = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record Lambda sends to an async invocation's OnSuccess/OnFailure destination.

    `condition` is Success, RetriesExhausted or EventAgeExceeded; an event that aged out before
    its first attempt has no response part.
    """
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": request_payload,
    }
    if invoke_count:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if error is not None:
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
        record["responsePayload"] = error_payload(error, request_id) if error is not None else response
    return record


def error_payload(error: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A Python function's error as Lambda reports it."""
    return {"errorMessage": error.get("errorMessage", ""), "errorType": error.get("errorType", "Error"),
            "requestId": request_id, "stackTrace": error.get("stackTrace", [])}  # fmt: skip


def dead_letter_attributes(request_id: str, error: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """The message attributes Lambda puts on an event it sends to a function's DeadLetterQueue."""
    message = (error or {}).get("errorMessage") or "Event age exceeded"
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": message[:ERROR_MESSAGE_LIMIT]},
    }


def batch_item_failures(response: Any, message_ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures response marks as failed; None when the response is invalid.

    As Lambda: no response or an empty/null list is success; a malformed list, or an id not in
    the batch, fails the whole batch.
    """
    if not isinstance(response, dict) or response.get("batchItemFailures") is None:
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed

"""Asynchronous invocation: retries, on-failure and on-success destinations, dead-letter queues, event age."""

from __future__ import annotations

import json
import time

from devstack.events.router import EventRouter
from tests.devstack.events.conftest import RETRY_DELAYS, Aws, Calls, fail

ACCOUNT = "123456789012"


def test_failing_function_is_retried_then_its_event_goes_to_the_on_failure_destination(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    calls.behaviours["OrdersFunction"] = fail
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 300}, bus="fx-orders")

    (message,) = aws.receive("FailureQueue", 1)

    attempts = calls.of("OrdersFunction")
    assert len(attempts) == 2  # MaximumRetryAttempts: 1
    assert attempts[0] == attempts[1]
    record = json.loads(message["Body"])
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    context = record["requestContext"]
    assert context["functionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:OrdersFunction:$LATEST"
    assert (context["condition"], context["approximateInvokeCount"]) == ("RetriesExhausted", 2)
    assert context["requestId"]
    assert record["requestPayload"] == attempts[0]
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"] == {
        "errorMessage": "bad event",
        "errorType": "ValueError",
        "requestId": context["requestId"],
        "stackTrace": ["line 1"],
    }


def test_retries_wait_the_configured_delays(router: EventRouter, aws: Aws, calls: Calls) -> None:
    times: list[float] = []

    def fail_and_time(event: object) -> None:
        times.append(time.monotonic())
        fail(event)

    calls.behaviours["ShippingFunction"] = fail_and_time  # default settings: two retries, discarded after
    aws.put_event("shop.orders", "OrderShipped", {"order": "o-9"}, bus="fx-orders")

    calls.wait_for("ShippingFunction", 3)
    assert times[1] - times[0] >= RETRY_DELAYS[0]
    assert times[2] - times[1] >= RETRY_DELAYS[1]


def test_function_that_recovers_on_a_retry_is_not_sent_to_the_destination(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    outcomes = iter([fail, lambda event: {"ok": True}])
    calls.behaviours["OrdersFunction"] = lambda event: next(outcomes)(event)
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 300}, bus="fx-orders")

    calls.wait_for("OrdersFunction", 2)
    # Given a later event that fails for good, its record is the only one on the queue.
    calls.behaviours["OrdersFunction"] = fail
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 999}, bus="fx-orders")
    (message,) = aws.receive("FailureQueue", 1)
    assert json.loads(message["Body"])["requestPayload"]["detail"] == {"amount": 999}
    assert aws.depth("FailureQueue") == 1


def test_classic_dead_letter_queue_gets_the_event_itself_with_error_attributes(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    calls.behaviours["PaymentsFunction"] = fail
    aws.sns.publish(TopicArn=aws.values["Topic"], Message=json.dumps({"labels": {"team": "payments"}}))

    (message,) = aws.receive("DeadLetters", 1)

    assert len(calls.of("PaymentsFunction")) == 1  # MaximumRetryAttempts: 0
    event = json.loads(message["Body"])
    assert event == calls.of("PaymentsFunction")[0]
    assert event["Records"][0]["EventSource"] == "aws:sns"
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"] == {"StringValue": "bad event", "DataType": "String"}
    assert attributes["RequestID"]["DataType"] == "String"


def test_sns_dead_letter_topic_and_on_success_destination(router: EventRouter, aws: Aws, calls: Calls) -> None:
    calls.behaviours["PlainFunction"] = lambda event: {"done": event}
    aws.put_event("shop.inventory", "StockChanged", {"sku": "ok"}, bus="fx-orders")
    (success,) = aws.receive("SuccessQueue", 1)
    record = json.loads(success["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"done": {"constant": True}}

    calls.behaviours["PlainFunction"] = fail
    aws.put_event("shop.inventory", "StockChanged", {"sku": "bad"}, bus="fx-orders")
    (copy,) = aws.receive("DeadLetterTopicCopies", 1)  # raw delivery of the dead-letter topic
    assert json.loads(copy["Body"]) == {"constant": True}
    assert copy["MessageAttributes"]["ErrorMessage"]["StringValue"] == "bad event"
    assert len(calls.of("PlainFunction")) == 3  # one success, then a first try and one retry


def test_event_older_than_the_maximum_age_is_not_run_and_goes_to_the_destination(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    router.invoke_async("OrdersFunction", {"stale": True}, received=time.time() - 7 * 3600)

    (message,) = aws.receive("FailureQueue", 1)

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"stale": True}
    assert "responseContext" not in record
    assert calls.of("OrdersFunction") == []


def test_no_event_is_lost_when_a_function_fails_intermittently(router: EventRouter, aws: Aws, calls: Calls) -> None:
    # Orders with an odd amount always fail; even ones fail once, then succeed on the retry.
    seen: set[int] = set()

    def flaky(event: dict[str, object]) -> None:
        amount = event["detail"]["amount"]  # type: ignore[index]
        if amount % 2 or amount not in seen:
            seen.add(amount)
            fail(event)

    calls.behaviours["OrdersFunction"] = flaky
    amounts = list(range(101, 121))
    for amount in amounts:
        aws.put_event("shop.orders", "OrderPlaced", {"amount": amount}, bus="fx-orders")

    failed = aws.receive("FailureQueue", 10)

    calls.wait_for("OrdersFunction", 40)  # every event twice: first try and one retry
    assert len(calls.of("OrdersFunction")) == 40
    in_dlq = sorted(json.loads(message["Body"])["requestPayload"]["detail"]["amount"] for message in failed)
    assert in_dlq == [amount for amount in amounts if amount % 2]
    assert aws.depth("FailureQueue") == 10

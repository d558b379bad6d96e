"""The router on the moto server: EventBridge rules and SNS subscriptions to functions, with Lambda's event shapes."""

from __future__ import annotations

import json
import re
import threading

from devstack.events.router import EventRouter
from tests.devstack.events.conftest import Aws, Calls

ACCOUNT = "123456789012"


def test_rule_on_custom_bus_delivers_matching_event_in_eventbridge_shape(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    event_id = aws.put_event("shop.orders", "OrderPlaced", {"amount": 250, "order": "o-1"}, bus="fx-orders")

    (event,) = calls.wait_for("OrdersFunction")

    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event["id"] == event_id
    assert (event["version"], event["source"], event["detail-type"]) == ("0", "shop.orders", "OrderPlaced")
    assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, "us-east-1", [])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["detail"] == {"amount": 250, "order": "o-1"}


def test_rule_skips_events_that_do_not_match_its_pattern(router: EventRouter, aws: Aws, calls: Calls) -> None:
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 50, "order": "small"}, bus="fx-orders")
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 500, "order": "other-bus"})  # default bus
    aws.put_event("shop.audit", "Audited", {"order": "wrong-bus"}, bus="fx-orders")
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 500, "order": "large"}, bus="fx-orders")
    aws.put_event("shop.audit", "Audited", {"order": "audit"})  # default bus

    # Each bus is read in order: once the last event of each bus has arrived, the others were passed over.
    calls.wait_for("OrdersFunction", 2)
    assert sorted(event["detail"]["order"] for event in calls.of("OrdersFunction")) == ["audit", "large"]


def test_several_rules_on_one_bus_each_get_the_event_and_default_bus_rules_see_only_it(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    aws.put_event("shop.orders", "OrderShipped", {"order": "o-2", "carrier": "ups"}, bus="fx-orders")
    aws.put_event("shop.audit", "Audited", {"order": "o-3"})

    (shipped,) = calls.wait_for("ShippingFunction")
    audit = calls.wait_for("OrdersFunction")

    assert shipped == {"order": "o-2", "carrier": "ups"}  # InputPath $.detail
    assert [event["detail"] for event in audit] == [{"order": "o-3"}]
    # The disabled rule (source shop.orders on the same bus) delivered nothing: one call only.
    assert len(calls.of("ShippingFunction")) == 1


def test_plain_cloudformation_rule_delivers_to_its_function_queue_and_topic_targets(
    router: EventRouter, aws: Aws, calls: Calls
) -> None:
    aws.put_event("shop.inventory", "StockChanged", {"sku": "a-1"}, bus="fx-orders")

    assert calls.wait_for("PlainFunction") == [{"constant": True}]
    (copy,) = aws.receive("RuleCopies", 1)
    assert json.loads(copy["Body"])["detail"] == {"sku": "a-1"}
    (published,) = aws.receive("RuleTopicCopies", 1)  # the router publishes to SNS targets
    assert json.loads(published["Body"]) == {"sku": "a-1"}


def test_rules_are_created_in_moto_as_the_template_declares(router: EventRouter, aws: Aws) -> None:
    rules = {rule["Name"]: rule for rule in aws.events.list_rules(EventBusName="fx-orders")["Rules"]}

    assert json.loads(rules["OrdersFunctionLargeOrders"]["EventPattern"])["detail"] == {
        "amount": [{"numeric": [">", 100]}]
    }
    assert rules["ShippingFunctionPaused"]["State"] == "DISABLED"
    assert "PlainRule" in rules


def test_sns_attribute_filter_policy_routes_only_matching_messages(router: EventRouter, aws: Aws, calls: Calls) -> None:
    topic = aws.values["Topic"]
    aws.sns.publish(
        TopicArn=topic, Message="low", MessageAttributes={"severity": {"DataType": "String", "StringValue": "low"}}
    )
    aws.sns.publish(TopicArn=topic, Message="none")
    published = aws.sns.publish(
        TopicArn=topic,
        Message="disk full",
        Subject="Disk",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "critical"}},
    )

    (event,) = calls.wait_for("AlertsFunction")

    (record,) = event["Records"]
    assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
    assert record["EventSubscriptionArn"].startswith(topic + ":")
    sns = record["Sns"]
    assert (sns["Type"], sns["MessageId"], sns["TopicArn"]) == ("Notification", published["MessageId"], topic)
    assert (sns["Subject"], sns["Message"]) == ("Disk", "disk full")
    assert sns["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}
    assert {"Timestamp", "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(sns)
    assert record["EventSubscriptionArn"] in sns["UnsubscribeUrl"]
    assert calls.of("AlertsFunction") == [event]


def test_sns_body_filter_policy_and_plain_subscription(router: EventRouter, aws: Aws, calls: Calls) -> None:
    topic = aws.values["Topic"]
    aws.sns.publish(TopicArn=topic, Message=json.dumps({"labels": {"team": "risk"}}))
    aws.sns.publish(
        TopicArn=topic,
        Message=json.dumps({"labels": {"team": "payments"}, "id": 1}),
        MessageAttributes={
            "source": {"DataType": "String", "StringValue": "rules"},
            "count": {"DataType": "Number", "StringValue": "5"},
        },
    )
    aws.sns.publish(
        TopicArn=topic,
        Message="plain",
        MessageAttributes={
            "source": {"DataType": "String", "StringValue": "external"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
    )

    (payments,) = calls.wait_for("PaymentsFunction")
    (plain,) = calls.wait_for("PlainFunction")

    assert json.loads(payments["Records"][0]["Sns"]["Message"]) == {"labels": {"team": "payments"}, "id": 1}
    assert plain["Records"][0]["Sns"]["Message"] == "plain"  # the "rules" message failed anything-but
    assert calls.of("AlertsFunction") == []


def test_events_put_by_a_running_function_are_routed_too(router: EventRouter, aws: Aws, calls: Calls) -> None:
    """A function that publishes while it runs (on another thread, as a worker process would)."""

    def publish_alert(event: dict[str, object]) -> None:
        aws.sns.publish(
            TopicArn=aws.values["Topic"],
            Message="from orders",
            MessageAttributes={"severity": {"DataType": "String", "StringValue": "critical"}},
        )

    calls.behaviours["OrdersFunction"] = publish_alert
    aws.put_event("shop.orders", "OrderPlaced", {"amount": 101}, bus="fx-orders")

    (alert,) = calls.wait_for("AlertsFunction")
    assert alert["Records"][0]["Sns"]["Message"] == "from orders"


def test_stop_ends_every_thread(
    moto_server: str, template: dict[str, object], provisioned: dict[str, str], calls: Calls
) -> None:
    from devstack.template.resolve import LocalResolver

    router = EventRouter(template, LocalResolver(template, provisioned), moto_server, calls, poll_wait=1.0).start()
    assert [thread for thread in threading.enumerate() if thread.name.startswith("events-")]

    router.stop()

    assert not [thread for thread in threading.enumerate() if thread.name.startswith("events-")]

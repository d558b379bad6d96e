"""provision_messaging: the fixture template's queues, topics, bus and parameter in moto, and their local values."""

from __future__ import annotations

import json

from tests.devstack.events.conftest import Aws

ACCOUNT = "123456789012"


def test_provision_returns_local_values_for_every_resource(aws: Aws) -> None:
    values = aws.values
    assert values["Bus"] == "fx-orders"
    assert values["Bus.Arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/fx-orders"
    assert values["Topic"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:alphapulse-local-alerts"
    assert values["Topic.TopicName"] == "alphapulse-local-alerts"
    assert values["SourceQueue.Arn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:SourceQueue"
    assert values["SourceQueue"].endswith(f"/{ACCOUNT}/SourceQueue")
    assert values["OrderedFifo.QueueName"] == "OrderedFifo.fifo"
    assert values["OrdersFunction"] == "OrdersFunction"
    assert values["OrdersFunction.Arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:OrdersFunction"
    assert values["LimitParameter"] == "/fx/limit"


def test_provision_creates_the_resources_with_their_properties(aws: Aws) -> None:
    assert aws.events.describe_event_bus(Name="fx-orders")["Name"] == "fx-orders"
    assert aws.values["Topic"] in [topic["TopicArn"] for topic in aws.sns.list_topics()["Topics"]]
    source = aws.sqs.get_queue_attributes(QueueUrl=aws.values["SourceQueue"], AttributeNames=["All"])["Attributes"]
    assert source["VisibilityTimeout"] == "1"
    assert json.loads(source["RedrivePolicy"]) == {
        "deadLetterTargetArn": aws.values["SourceDeadLetterQueue.Arn"],
        "maxReceiveCount": 2,
    }
    fifo = aws.sqs.get_queue_attributes(QueueUrl=aws.values["OrderedFifo"], AttributeNames=["All"])["Attributes"]
    assert fifo["FifoQueue"] == "true"
    assert fifo["ContentBasedDeduplication"] == "true"
    assert aws.ssm.get_parameter(Name="/fx/limit")["Parameter"]["Value"] == "100"

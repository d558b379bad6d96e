"""template.yaml's operations: an alarm on every dead-letter queue and every function, present or future, each naming
what it watches and notifying the operations topic; a dashboard whose figures are ones something really reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devstack.template.load import load_template, resources_of_type

pytestmark = pytest.mark.infra

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "alphapulse"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
OPERATIONS_TOPIC = {"Ref": "OperationsTopic"}
# The metrics AWS publishes that the dashboard may show (AWS/Lambda, AWS/SQS and AWS/ApiGateway documentation).
AWS_METRICS = {
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    "AWS/SQS": {"NumberOfMessagesSent", "NumberOfMessagesDeleted", "ApproximateNumberOfMessagesVisible"},
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"},
}
DIMENSION_TYPES = {"FunctionName": FUNCTION_TYPES, "QueueName": ("AWS::SQS::Queue",)}
PLACEHOLDER = re.compile(r"\$\{([\w:]+)(?:\.(\w+))?\}")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _of_type(template: dict[str, Any], *types: str) -> dict[str, Any]:
    return {name: resource for kind in types for name, resource in resources_of_type(template, kind).items()}


def _arn_of(value: Any) -> str | None:
    """The logical id in `!GetAtt X.Arn`, else None."""
    found = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(found, str):
        found = found.split(".")
    return found[0] if isinstance(found, list) and found[1:] == ["Arn"] else None


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Every queue that something sends its failures to: redrive policies, Lambda destinations and DLQs."""
    targets: list[Any] = []
    for queue in _of_type(template, "AWS::SQS::Queue").values():
        targets.append((queue.get("Properties", {}).get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
    for function in _of_type(template, *FUNCTION_TYPES).values():
        properties = function["Properties"]
        destinations = (properties.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}
        targets.append((destinations.get("OnFailure") or {}).get("Destination"))
        targets.append((properties.get("DeadLetterQueue") or {}).get("TargetArn"))
    queues = _of_type(template, "AWS::SQS::Queue")
    return {name for target in targets if (name := _arn_of(target)) in queues}


def alarms_watching(template: dict[str, Any], namespace: str, metric: str, dimension: str) -> dict[str, list[str]]:
    """What each alarm on `metric` watches (the logical id in its dimension) -> the alarms."""
    watched: dict[str, list[str]] = {}
    for name, alarm in _of_type(template, "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        if (properties.get("Namespace"), properties.get("MetricName")) != (namespace, metric):
            continue
        for entry in properties.get("Dimensions", []):
            if entry["Name"] == dimension:
                value = entry["Value"]
                target = value.get("Ref") or value.get("Fn::GetAtt", [""])[0] if isinstance(value, dict) else value
                watched.setdefault(target, []).append(name)
    return watched


def _names(template: dict[str, Any], alarm: str, target: str) -> bool:
    properties = template["Resources"][alarm]["Properties"]
    name = properties["AlarmName"]
    return target in (name.get("Fn::Sub", "") if isinstance(name, dict) else name) and target in str(
        properties["AlarmDescription"]
    )


# --- alarms --------------------------------------------------------------------------------------


def test_dead_letter_queues_found_in_the_template(template: dict[str, Any]) -> None:
    expected = {"IngestDeadLetterQueue", "AlertIngestDeadLetterQueue", "RulesDeadLetterQueue", "PushDeadLetterQueue",
                "FanoutDeadLetterQueue"}  # fmt: skip
    assert dead_letter_queues(template) >= expected


def test_every_dead_letter_queue_has_one_depth_alarm_naming_it(template: dict[str, Any]) -> None:
    watched = alarms_watching(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    for queue in dead_letter_queues(template):
        assert len(watched.get(queue, [])) == 1, f"{queue}: one depth alarm wanted, found {watched.get(queue)}"
        [alarm] = watched[queue]
        assert _names(template, alarm, queue), f"{alarm} does not name {queue}"
        properties = template["Resources"][alarm]["Properties"]
        assert properties["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)


def test_every_function_has_one_errors_alarm_naming_it(template: dict[str, Any]) -> None:
    functions = _of_type(template, *FUNCTION_TYPES)
    assert len(functions) >= 14
    watched = alarms_watching(template, "AWS/Lambda", "Errors", "FunctionName")
    missing = sorted(function for function in functions if len(watched.get(function, [])) != 1)
    assert missing == [], f"functions without exactly one Errors alarm: {missing}"
    for function in functions:
        [alarm] = watched[function]
        assert _names(template, alarm, function), f"{alarm} does not name {function}"
        assert template["Resources"][alarm]["Properties"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": function}}
        ]


def test_every_alarm_notifies_the_operations_topic_and_treats_no_data_as_fine(template: dict[str, Any]) -> None:
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [OPERATIONS_TOPIC], name
        assert properties["OKActions"] == [OPERATIONS_TOPIC], name
        assert properties["TreatMissingData"] == "notBreaching", name


def test_operations_topic_encrypted_with_a_key_cloudwatch_may_use(template: dict[str, Any]) -> None:
    # alias/aws/sns would silently swallow every alarm: CloudWatch cannot use the AWS managed key.
    resources = template["Resources"]
    key = resources["OperationsTopic"]["Properties"]["KmsMasterKeyId"]
    assert key == {"Ref": "OperationsTopicKey"}
    properties = resources["OperationsTopicKey"]["Properties"]
    assert properties["EnableKeyRotation"] is True
    [cloudwatch] = [s for s in properties["KeyPolicy"]["Statement"] if s["Principal"].get("Service")]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_operations_email_subscribed_only_when_given(template: dict[str, Any]) -> None:
    subscription = template["Resources"]["OperationsEmailSubscription"]
    assert subscription["Condition"] == "HasOperationsEmail"
    assert template["Parameters"]["OperationsEmail"]["Default"] == ""
    assert subscription["Properties"]["TopicArn"] == OPERATIONS_TOPIC
    assert {"OperationsTopicArn", "OperationsDashboardUrl"} <= set(template["Outputs"])


# --- the dashboard -------------------------------------------------------------------------------


def dashboard(template: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
    """The dashboard's body, its placeholders standing for themselves, and the placeholders."""
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(body), PLACEHOLDER.findall(body)


def emitted_metrics() -> dict[str, str]:
    """The EMF metric names the layer emits (`count("Name", ...)`) -> the line that does."""
    found: dict[str, str] = {}
    for path in LAYER.rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.search(r"\bcount\(", line):
                for name in re.findall(r'"([A-Z]\w+)"', line):
                    found[name] = line
    return found


def test_dashboard_placeholders_name_resources_parameters_or_pseudo_parameters(template: dict[str, Any]) -> None:
    _, placeholders = dashboard(template)
    known = set(template["Resources"]) | set(template["Parameters"]) | {"AWS::Region", "AWS::StackName"}
    assert {name for name, _ in placeholders} - known == set()


def test_dashboard_metrics_are_ones_aws_or_the_code_reports(template: dict[str, Any]) -> None:
    body, _ = dashboard(template)
    resources = template["Resources"]
    emitted = emitted_metrics()
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    shown = 0
    for widget in (w for w in body["widgets"] if w["type"] == "metric"):
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):  # an expression
                for space, dimensions, name in re.findall(r"\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"",
                                                          metric[0]["expression"]):  # fmt: skip
                    assert space == namespace
                    assert name in emitted, f"{name}: no count() of the layer emits it"
                    assert all(f"{d}=" in emitted[name] for d in dimensions.split(",") if d != "service")
                    shown += 1
                continue
            space, name, *rest = [part for part in metric if not isinstance(part, dict)]
            assert name in AWS_METRICS[space], f"{space} has no metric {name}"
            for dimension, value in zip(rest[::2], rest[1::2], strict=True):
                if dimension in DIMENSION_TYPES:
                    logical_id = PLACEHOLDER.fullmatch(value)[1]  # type: ignore[index]
                    assert resources[logical_id]["Type"] in DIMENSION_TYPES[dimension], value
                elif dimension == "ApiName":  # SAM names a REST API without a Name after the stack
                    assert value == "${AWS::StackName}" and "Name" not in resources["RestApi"]["Properties"]
                else:
                    assert (dimension, value) == ("Stage", "${Stage}")
            shown += 1
    assert shown >= 10


def test_dashboard_shows_what_an_operator_looks_at_first(template: dict[str, Any]) -> None:
    body, _ = dashboard(template)
    text = json.dumps(body)
    figures = ('"Invocations", "FunctionName", "${IngestFunction}"', '"${PushQueue.QueueName}"', "sum(failed)",
               'MetricName=\\"CacheHit\\"', '"4XXError"', '"5XXError"', "@initDuration")  # fmt: skip
    for figure in figures:
        assert figure in text, figure


def test_dashboard_log_queries_read_log_groups_and_fields_that_exist(template: dict[str, Any]) -> None:
    body, _ = dashboard(template)
    groups = _of_type(template, "AWS::Logs::LogGroup")
    broadcast = (LAYER / "realtime" / "logic" / "broadcast.py").read_text()
    queries = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert queries
    for query in queries:
        for group in re.findall(r"SOURCE '\$\{(\w+)\}'", query):
            assert group in groups, group
        if 'message = "pushed"' in query:
            assert 'get_logger().info("pushed"' in broadcast
            for field in re.findall(r"sum\((\w+)\)", query):
                assert f'"{field}":' in broadcast, field
    cold_starts = next(query for query in queries if "@initDuration" in query)
    for function in _of_type(template, *FUNCTION_TYPES).values():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert f"SOURCE '${{{group}}}'" in cold_starts, f"cold starts of {group} not shown"


def test_dashboard_alarm_widget_lists_every_alarm(template: dict[str, Any]) -> None:
    body, _ = dashboard(template)
    [widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    listed = {arn.removeprefix("${").removesuffix(".Arn}") for arn in widget["properties"]["alarms"]}
    assert listed == set(_of_type(template, "AWS::CloudWatch::Alarm"))

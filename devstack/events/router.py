"""The template's messaging in the local stack: queues, topics and buses in moto, and the routing
of EventBridge events, SNS messages and SQS batches to the functions the template subscribes.

moto is the transport. Every bus with a function target gets one catch-all rule whose target is an
internal SQS queue, every topic with a function subscriber one internal SQS subscription; a poller
reads them, matches the template's rules and filter policies itself (devstack.events.patterns), and
hands the events to the function's asynchronous invocation queue, which retries as Lambda does and
sends what still fails to the function's destinations and dead-letter queue. Scheduled rules (`rate(...)`)
run on a timer each and put their Scheduled Event on the same queue. SQS event sources are
polled like Lambda's event source mappings. http, https, email, email-json and sms subscriptions are
read from the same internal queue too, and delivered by devstack.events.notifications. Rules and
subscriptions with other targets (an SQS queue, a log group) are created in moto as they are, and moto
delivers them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devstack.events.notifications import PROTOCOLS, DeliverySettings, EndpointSubscription, Notifier
from devstack.events.patterns import filter_policy_matches, matches
from devstack.events.shapes import (
    batch_item_failures,
    check_input_path,
    dead_letter_attributes,
    eventbridge_event,
    invocation_record,
    rate_seconds,
    scheduled_event,
    sns_record,
    sqs_record,
    target_input,
)
from devstack.template.load import function_behind, resources_of_type
from devstack.template.resolve import ACCOUNT_ID, REGION, LocalResolver, function_arn

log = logging.getLogger(__name__)

INTERNAL = "devstack-"  # prefix of the queues, rules and subscriptions the router adds
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE = 21600.0  # six hours
QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                    "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                    "SqsManagedSseEnabled")  # fmt: skip
TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion",
                    "TracingConfig")  # fmt: skip


def _attribute(value: Any) -> str:
    """A CloudFormation property as an SQS/SNS attribute string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _bus_name(value: str | None) -> str:
    """A bus given by name or ARN, as its name."""
    if not value:
        return "default"
    return value.split(":event-bus/", 1)[1] if value.startswith("arn:") else value


def _json(value: Any) -> Any:
    """Patterns and filter policies may be written as objects or as JSON strings."""
    return json.loads(value) if isinstance(value, str) else value


class _Clients:
    """boto3 clients for the moto endpoint, created once (boto3 clients are safe to share between threads)."""

    def __init__(self, endpoint: str, region: str) -> None:
        import boto3

        # moto takes any credentials; explicit ones keep the router independent of the environment.
        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106
                                        region_name=region)  # fmt: skip
        self.sqs, self.sns, self.events, self.ssm = (
            session.client(name, endpoint_url=endpoint) for name in ("sqs", "sns", "events", "ssm")
        )
        self._urls: dict[str, str] = {}

    def queue_url(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            self._urls[queue_arn] = self.sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        return self._urls[queue_arn]


# --- provisioning ---


def provision_messaging(template: dict[str, Any], aws_endpoint: str, *, region: str = REGION,
                        values: Mapping[str, str] | None = None) -> dict[str, str]:  # fmt: skip
    """Create the template's SQS queues, SNS topics, EventBridge buses and SSM parameters in moto.

    Returns what a LocalResolver needs for them and for the functions: `<Queue>` (URL),
    `<Queue>.Arn|QueueName|QueueUrl`, `<Topic>` (ARN), `<Topic>.TopicName|TopicArn`, `<Bus>` (name),
    `<Bus>.Name|Arn`, `<Parameter>` (name), `<Parameter>.Type|Value`, `<Function>` (name), `<Function>.Arn`.
    """
    clients = _Clients(aws_endpoint, region)
    resolver = LocalResolver(template, values or {})  # `values`: the parameters' values
    created: dict[str, str] = {}

    def remember(found: dict[str, str]) -> None:
        created.update(found)
        resolver.values.update(found)  # later resources may refer to earlier ones

    for logical_id, resource in resources_of_type(template, "AWS::Lambda::Function").items():
        name = str(resolver.resolve(resource["Properties"].get("FunctionName", logical_id)))
        remember({logical_id: name, f"{logical_id}.Arn": function_arn(name, region)})
    for logical_id, resource in resources_of_type(template, "AWS::Events::EventBus").items():
        name = str(resolver.resolve(resource["Properties"]["Name"]))
        if name != "default":
            clients.events.create_event_bus(Name=name)
        arn = f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{name}"
        remember({logical_id: name, f"{logical_id}.Name": name, f"{logical_id}.Arn": arn})
    for logical_id, resource in resources_of_type(template, "AWS::SNS::Topic").items():
        props = _resolved(resolver, resource.get("Properties", {}))
        name = props.get("TopicName") or logical_id + (".fifo" if props.get("FifoTopic") else "")
        attributes = {key: _attribute(props[key]) for key in TOPIC_ATTRIBUTES if key in props}
        arn = clients.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        remember({logical_id: arn, f"{logical_id}.TopicArn": arn, f"{logical_id}.TopicName": name})
    queues = resources_of_type(template, "AWS::SQS::Queue")
    for logical_id, resource in queues.items():
        props = _resolved(resolver, resource.get("Properties", {}))
        name = props.get("QueueName") or logical_id + (".fifo" if props.get("FifoQueue") else "")
        attributes = {key: _attribute(props[key]) for key in QUEUE_ATTRIBUTES if key in props}
        url = clients.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"
        remember({logical_id: url, f"{logical_id}.QueueUrl": url, f"{logical_id}.Arn": arn,
                  f"{logical_id}.QueueName": name})  # fmt: skip
    for logical_id, resource in queues.items():  # after every queue exists: a redrive policy names its DLQ
        props = _resolved(resolver, resource.get("Properties", {}))
        policies = {key: _attribute(props[key]) for key in ("RedrivePolicy", "RedriveAllowPolicy") if key in props}
        if policies:
            clients.sqs.set_queue_attributes(QueueUrl=created[logical_id], Attributes=policies)
    for logical_id, resource in resources_of_type(template, "AWS::SSM::Parameter").items():
        props = _resolved(resolver, resource["Properties"])
        name = props.get("Name") or logical_id
        clients.ssm.put_parameter(Name=name, Value=str(props["Value"]), Type=props["Type"], Overwrite=True)
        remember({logical_id: name, f"{logical_id}.Type": props["Type"], f"{logical_id}.Value": str(props["Value"])})
    return created


def _resolved(resolver: LocalResolver, value: Any) -> Any:
    """`value` with every intrinsic inside it resolved."""
    value = resolver.resolve(value)
    if isinstance(value, dict):
        return {key: _resolved(resolver, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(resolver, item) for item in value]
    return value


# --- what the template routes ---


@dataclass(frozen=True)
class Target:
    """A rule target the router delivers itself: a function or an SNS topic (by ARN)."""

    arn: str
    constant: Any = None  # Input
    path: str | None = None  # InputPath


@dataclass
class Rule:
    name: str
    bus: str
    pattern: dict[str, Any]
    enabled: bool
    targets: list[Target] = field(default_factory=list)
    moto_targets: list[dict[str, Any]] = field(default_factory=list)  # SQS queues, log groups...: moto delivers


@dataclass
class Schedule:
    """A scheduled rule (`rate(...)` only) and the functions or topics it targets."""

    name: str
    expression: str
    period: float  # seconds
    enabled: bool
    targets: list[Target] = field(default_factory=list)


@dataclass(frozen=True)
class Subscription:
    """An SNS subscription of a function."""

    topic_arn: str
    function: str
    filter_policy: dict[str, Any]
    scope: str
    arn: str


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source mapping."""

    function: str
    queue_arn: str
    batch_size: int = 10
    window: float = 0.0
    report_failures: bool = False


@dataclass
class AsyncConfig:
    """A function's asynchronous invocation settings (EventInvokeConfig and DeadLetterQueue)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age: float = DEFAULT_MAX_EVENT_AGE
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


@dataclass
class Routes:
    functions: dict[str, str] = field(default_factory=dict)  # function ARN -> logical id
    rules: list[Rule] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    sqs_subscriptions: list[dict[str, Any]] = field(default_factory=list)  # to queues: moto delivers
    endpoints: list[EndpointSubscription] = field(default_factory=list)  # http(s), email, sms: the Notifier
    signature_versions: dict[str, str] = field(default_factory=dict)  # topic ARN -> its SignatureVersion
    sources: list[SqsSource] = field(default_factory=list)
    configs: dict[str, AsyncConfig] = field(default_factory=dict)


def read_routes(template: dict[str, Any], resolver: LocalResolver, region: str = REGION) -> Routes:
    """Every rule, subscription, event source and async setting of the template, resolved."""
    routes = Routes()
    functions = resources_of_type(template, "AWS::Lambda::Function")
    for logical_id, resource in functions.items():
        arn = function_arn(str(resolver.resolve({"Ref": logical_id})), region)
        routes.functions[arn] = routes.functions[f"{arn}:$LATEST"] = logical_id
        dead_letter = _resolved(resolver, resource["Properties"].get("DeadLetterConfig") or {}).get("TargetArn")
        routes.configs[logical_id] = _async_config({}, dead_letter)
    # SAM's AutoPublishAlias: an alias and a version; Ref gives each one's qualified ARN.
    for logical_id in [
        *resources_of_type(template, "AWS::Lambda::Alias"),
        *resources_of_type(template, "AWS::Lambda::Version"),
    ]:
        function = function_behind(template, logical_id)
        if function is not None:
            routes.functions[str(resolver.resolve({"Ref": logical_id}))] = function
    if resources_of_type(template, "AWS::Scheduler::Schedule"):
        raise ValueError("EventBridge Scheduler schedules (ScheduleV2) are not run by the local stack")
    for logical_id, resource in resources_of_type(template, "AWS::Events::Rule").items():
        props = _resolved(resolver, resource["Properties"])
        if "ScheduleExpression" in props:
            schedule = _schedule(props.get("Name") or logical_id, props["ScheduleExpression"],
                                 props.get("State", "ENABLED") == "ENABLED", logical_id)  # fmt: skip
            for target in props.get("Targets", []):
                _add_scheduled_target(schedule, target, logical_id)
            routes.schedules.append(schedule)
            continue
        if "EventPattern" not in props:
            log.warning("rule %s has neither an event pattern nor a schedule; skipped", logical_id)
            continue
        rule = Rule(props.get("Name") or logical_id, _bus_name(props.get("EventBusName")), _json(props["EventPattern"]),
                    props.get("State", "ENABLED") == "ENABLED")  # fmt: skip
        for target in props.get("Targets", []):
            _add_target(rule, target, logical_id)
        routes.rules.append(rule)
    for logical_id, resource in resources_of_type(template, "AWS::SNS::Subscription").items():
        _read_subscription(routes, logical_id, _resolved(resolver, resource["Properties"]))
    for logical_id, resource in resources_of_type(template, "AWS::SNS::Topic").items():
        topic_arn = str(resolver.resolve({"Ref": logical_id}))
        props = _resolved(resolver, resource.get("Properties", {}))
        if "SignatureVersion" in props:
            routes.signature_versions[topic_arn] = str(props["SignatureVersion"])
        for index, inline in enumerate(props.get("Subscription", [])):
            _read_subscription(routes, f"{logical_id}{index}", {**inline, "TopicArn": topic_arn})
    for resource in resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values():
        props = _resolved(resolver, resource["Properties"])
        function = _named(routes, props["FunctionName"], region)
        routes.configs[function] = _async_config(props, routes.configs[function].dead_letter)
    for resource in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        props = _resolved(resolver, resource["Properties"])
        if ":sqs:" in props.get("EventSourceArn", ""):
            _add_source(routes, _named(routes, props["FunctionName"], region), props["EventSourceArn"], props)
    return routes


def _add_target(rule: Rule, target: dict[str, Any], where: str) -> None:
    if "InputTransformer" in target:
        raise ValueError(f"{where}: InputTransformer is not supported by the local stack")
    service = target["Arn"].split(":")[2]
    if service in ("lambda", "sns"):
        check_input_path(target.get("InputPath", "$"))
        constant = json.loads(target["Input"]) if "Input" in target else None
        rule.targets.append(Target(target["Arn"], constant, target.get("InputPath")))
    else:
        rule.moto_targets.append({key: target[key] for key in ("Id", "Arn", "Input", "InputPath") if key in target})


def _schedule(name: str, expression: str, enabled: bool, where: str) -> Schedule:
    try:
        period = rate_seconds(expression)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return Schedule(name, expression, period, enabled)


def _add_scheduled_target(schedule: Schedule, target: dict[str, Any], where: str) -> None:
    """A schedule's target; moto runs no schedules, so only the targets the router delivers are accepted."""
    probe = Rule(schedule.name, "default", {}, schedule.enabled)
    _add_target(probe, target, where)
    if probe.moto_targets:
        raise ValueError(f"{where}: a schedule's {target['Arn']} target is not run by the local stack")
    schedule.targets.extend(probe.targets)


def _read_subscription(routes: Routes, name: str, props: dict[str, Any]) -> None:
    topic_arn, protocol, endpoint = props["TopicArn"], props["Protocol"], props["Endpoint"]
    policy = _json(props.get("FilterPolicy") or {})
    scope = props.get("FilterPolicyScope") or "MessageAttributes"
    if protocol == "lambda":
        function = routes.functions.get(endpoint)
        if function is None:
            raise ValueError(f"{name}: the subscribed function {endpoint} is not in the template")
        arn = f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{topic_arn}/{function}/{name}')}"
        routes.subscriptions.append(Subscription(topic_arn, function, policy, scope, arn))
    elif protocol in PROTOCOLS:
        arn = f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{topic_arn}/{name}')}"
        raw = props.get("RawMessageDelivery") in (True, "true")
        routes.endpoints.append(EndpointSubscription(topic_arn, protocol, endpoint, policy, scope, arn, raw))
    elif protocol == "sqs":
        attributes = {"FilterPolicyScope": scope, "FilterPolicy": json.dumps(policy)} if policy else {}
        if props.get("RawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        routes.sqs_subscriptions.append({"TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": endpoint,
                                         "Attributes": attributes})  # fmt: skip
    else:
        log.warning("%s: %s subscriptions are not delivered locally", name, protocol)


def _add_source(routes: Routes, function: str, queue_arn: str, props: dict[str, Any]) -> None:
    if props.get("Enabled", True) in (False, "false"):
        return
    routes.sources.append(SqsSource(function, queue_arn, int(props.get("BatchSize", 10)),
                                    float(props.get("MaximumBatchingWindowInSeconds", 0)),
                                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])))  # fmt: skip


def _named(routes: Routes, name_or_arn: str, region: str) -> str:
    function = _function_of(routes, name_or_arn, region)
    if function is None:
        raise ValueError(f"no function {name_or_arn} in the template")
    return function


def _function_of(routes: Routes, name_or_arn: str, region: str) -> str | None:
    """The logical id of the function with this name or ARN, either with an alias or $LATEST after a colon (as
    Lambda's API takes them), or None."""
    arn = name_or_arn if name_or_arn.startswith("arn:") else function_arn(name_or_arn, region)
    return routes.functions.get(arn)


def _async_config(invoke: dict[str, Any], dead_letter: str | None) -> AsyncConfig:
    """From an EventInvokeConfig's properties and the function's DeadLetterConfig target."""
    destinations = invoke.get("DestinationConfig") or {}
    return AsyncConfig(
        max_retries=int(invoke.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
        max_age=float(invoke.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
        on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
        dead_letter=dead_letter,
    )


# --- routing ---


@dataclass(order=True)
class _Pending:
    """One asynchronous invocation waiting in a function's queue."""

    due: float
    order: int
    event: Any = field(compare=False)
    received: float = field(compare=False)  # epoch seconds, for MaximumEventAgeInSeconds
    request_id: str = field(compare=False)
    attempts: int = field(compare=False, default=0)
    error: dict[str, Any] | None = field(compare=False, default=None)


class EventRouter:
    """Delivers the template's events to its functions while the local stack runs."""

    def __init__(
        self,
        template: dict[str, Any],
        resolver: LocalResolver,
        aws_endpoint: str,
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        retry_delays: Sequence[float] = (60.0, 120.0),
        poll_wait: float = 1.0,
        schedule_seconds: float | None = None,
        region: str = REGION,
        concurrency: int = 1,
        delivery: DeliverySettings | None = None,
    ) -> None:
        """`invoke(logical_id, event)` runs a function and raises when it failed; up to `concurrency`
        asynchronous invocations of one function run at the same time, as in Lambda. `delivery` is needed
        when the template subscribes endpoints (http, https, email, email-json, sms) to a topic.

        `retry_delays` are the waits before each async retry (Lambda's are about 1 and 2 minutes;
        the last one repeats). An empty poll of a queue waits `poll_wait` seconds: a long poll from
        1 s up, a pause after a short poll below that. `schedule_seconds` replaces the period of
        every schedule (tests run a `rate(1 minute)` every second).
        """
        self.routes = read_routes(template, resolver, region)
        self.region = region
        self.notifier: Notifier | None = None
        if self.routes.endpoints:
            if delivery is None:
                raise ValueError("the template subscribes endpoints to a topic: the router needs DeliverySettings")
            self.notifier = Notifier(self.routes.endpoints, delivery, signature_versions=self.routes.signature_versions)
        self._endpoint = aws_endpoint
        self._invoke = invoke
        self._delays = tuple(retry_delays)
        self._poll_wait = poll_wait
        if schedule_seconds is not None and schedule_seconds <= 0:
            raise ValueError(f"a schedule period must be positive, not {schedule_seconds}")
        self._schedule_seconds = schedule_seconds
        self._concurrency = concurrency
        self._clients: _Clients | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Condition()  # guards every function's pending invocations
        self._pending: dict[str, list[_Pending]] = {}
        self._order = itertools.count()

    @property
    def clients(self) -> _Clients:
        if self._clients is None:
            raise RuntimeError("the router is not started")
        return self._clients

    def start(self) -> EventRouter:
        """Create the rules, subscriptions and internal queues in moto, then start polling."""
        self._clients = clients = _Clients(self._endpoint, self.region)
        for rule in self.routes.rules:
            clients.events.put_rule(Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern),
                                    State="ENABLED" if rule.enabled else "DISABLED")  # fmt: skip
            if rule.moto_targets and rule.enabled:  # moto would deliver to them even when disabled
                targets = [{"Id": f"Target{index}", **target} for index, target in enumerate(rule.moto_targets)]
                clients.events.put_targets(Rule=rule.name, EventBusName=rule.bus, Targets=targets)
        for schedule in self.routes.schedules:
            clients.events.put_rule(Name=schedule.name, ScheduleExpression=schedule.expression,
                                    State="ENABLED" if schedule.enabled else "DISABLED")  # fmt: skip
        for subscription in self.routes.sqs_subscriptions:
            clients.sns.subscribe(**subscription)
        for bus in sorted({rule.bus for rule in self.routes.rules if rule.targets}):
            url, arn = self._internal_queue(f"bus-{bus}")
            clients.events.put_rule(Name=f"{INTERNAL}router", EventBusName=bus,
                                    EventPattern=json.dumps({"source": [{"prefix": ""}]}))  # fmt: skip
            clients.events.put_targets(
                Rule=f"{INTERNAL}router", EventBusName=bus, Targets=[{"Id": "router", "Arn": arn}]
            )
            self._spawn(f"events-bus-{bus}", self._poll, url, lambda body, _bus=bus: self._route_event(_bus, body))
        if self.notifier:
            self.notifier.start()
        topics = {subscription.topic_arn for subscription in [*self.routes.subscriptions, *self.routes.endpoints]}
        for topic_arn in sorted(topics):
            url, arn = self._internal_queue(f"topic-{topic_arn.rsplit(':', 1)[1]}")
            clients.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
            self._spawn(f"events-topic-{topic_arn}", self._poll, url,
                        lambda body, _topic=topic_arn: self._route_message(_topic, body))  # fmt: skip
        for source in self.routes.sources:
            # Lambda polls a queue with several pollers; on a FIFO queue SQS (moto too) hands out no message of a
            # group while a batch of that group is in flight, so each group stays in order, one batch at a time.
            for poller in range(1 if source.queue_arn.endswith(".fifo") else self._concurrency):
                self._spawn(f"events-sqs-{source.function}-{poller}", self._poll_source, source)
        for function in sorted(self._async_functions()):
            self._pending[function] = []
            for runner in range(self._concurrency):
                self._spawn(f"events-async-{function}-{runner}", self._run_async, function)
        for schedule in self.routes.schedules:
            if schedule.enabled and schedule.targets:
                self._spawn(f"events-schedule-{schedule.name}", self._run_schedule, schedule)
        return self

    def stop(self) -> None:
        """Stop polling and invoking; returns once every thread has ended."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        if self.notifier:
            self.notifier.stop()
        left = sum(len(pending) for pending in self._pending.values())
        if left:
            log.warning("stopped with %d asynchronous invocations still waiting for a retry", left)

    def _async_functions(self) -> set[str]:
        """Every function: rules, subscriptions and destinations invoke them asynchronously, and so can anyone
        through the Lambda Invoke API (InvocationType Event)."""
        return set(self.routes.functions.values())

    def function_named(self, name_or_arn: str) -> str | None:
        """The logical id of the template's function with this name or ARN, or None."""
        return _function_of(self.routes, name_or_arn, self.region)

    def invoke_async(self, function: str, event: Any, received: float | None = None) -> None:
        """Queue an asynchronous invocation, as Lambda's Invoke with InvocationType Event does."""
        pending = _Pending(time.monotonic(), next(self._order), event, received or time.time(), str(uuid.uuid4()))
        with self._lock:
            heapq.heappush(self._pending[function], pending)
            self._lock.notify_all()

    # --- polling ---

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _internal_queue(self, suffix: str) -> tuple[str, str]:
        name = INTERNAL + re.sub(r"[^A-Za-z0-9_-]", "_", suffix)[: 80 - len(INTERNAL)]
        url = self.clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}"

    def _receive(self, url: str, count: int) -> list[dict[str, Any]]:
        wait = int(self._poll_wait) if self._poll_wait >= 1 else 0
        try:
            reply = self.clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(count, 10),
                                                     WaitTimeSeconds=wait, AttributeNames=["All"],
                                                     MessageAttributeNames=["All"])  # fmt: skip
        except Exception:  # moto restarting or gone: wait and poll again
            if not self._stopping.is_set():
                log.exception("receiving from %s failed", url)
            self._stopping.wait(max(self._poll_wait, 0.1))
            return []
        messages: list[dict[str, Any]] = reply.get("Messages", [])
        if not messages and not wait:
            self._stopping.wait(self._poll_wait)
        return messages

    def _poll(self, url: str, route: Callable[[dict[str, Any]], None]) -> None:
        """Read an internal queue; a message is deleted once routed (accepted by the async queues)."""
        while not self._stopping.is_set():
            for message in self._receive(url, 10):
                try:
                    route(message)
                    self.clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                except Exception:  # left on the queue: it comes back after the visibility timeout
                    log.exception("routing message %s failed", message["MessageId"])

    def _route_event(self, bus: str, message: dict[str, Any]) -> None:
        event = eventbridge_event(json.loads(message["Body"]), ACCOUNT_ID)
        received = int(message["Attributes"]["SentTimestamp"]) / 1000
        for rule in self.routes.rules:
            if rule.bus != bus or not rule.enabled or not matches(rule.pattern, event):
                continue
            self._deliver(rule.targets, event, received)

    def _deliver(self, targets: list[Target], event: dict[str, Any], received: float) -> None:
        """An EventBridge event to a rule's function (asynchronous invocation) and topic targets."""
        for target in targets:
            payload = target_input(event, constant=target.constant, path=target.path)
            if ":lambda:" in target.arn:
                self.invoke_async(self.routes.functions[target.arn], payload, received)
            else:
                self.clients.sns.publish(TopicArn=target.arn, Message=json.dumps(payload))

    def _run_schedule(self, schedule: Schedule) -> None:
        """Fire a scheduled rule every period (the first time one period after the start), without drift."""
        period = self._schedule_seconds or schedule.period
        arn = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{schedule.name}"
        due = time.monotonic() + period
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            due += period
            try:
                self._deliver(schedule.targets, scheduled_event(arn, account=ACCOUNT_ID, region=self.region),
                              time.time())  # fmt: skip
            except Exception:  # a topic target that moto refused: the next period tries again
                log.exception("schedule %s could not fire", schedule.name)

    def _route_message(self, topic_arn: str, message: dict[str, Any]) -> None:
        envelope = json.loads(message["Body"])
        received = int(message["Attributes"]["SentTimestamp"]) / 1000
        attributes = envelope.get("MessageAttributes") or {}
        for subscription in self.routes.subscriptions:
            if subscription.topic_arn == topic_arn and filter_policy_matches(
                subscription.filter_policy, subscription.scope, envelope["Message"], attributes
            ):
                event = {"Records": [sns_record(envelope, subscription.arn, self.region)]}
                self.invoke_async(subscription.function, event, received)
        if self.notifier:
            self.notifier.publish(topic_arn, envelope)

    def _poll_source(self, source: SqsSource) -> None:
        """An SQS event source mapping: batches in, failures left for the queue's visibility timeout."""
        url = self.clients.queue_url(source.queue_arn)
        while not self._stopping.is_set():
            batch = self._receive(url, source.batch_size)
            deadline = time.monotonic() + source.window
            while batch and len(batch) < source.batch_size and time.monotonic() < deadline:
                batch += self._receive(url, source.batch_size - len(batch))
            if not batch:
                continue
            event = {"Records": [sqs_record(message, source.queue_arn, self.region) for message in batch]}
            try:
                response = self._invoke(source.function, event)
            except Exception as exc:  # the whole batch returns to the queue
                log.warning("%s failed on a batch of %d from %s: %s", source.function, len(batch), url, exc)
                continue
            ids = {message["MessageId"] for message in batch}
            failed = batch_item_failures(response, ids) if source.report_failures else set()
            if failed is None:
                log.warning("%s returned an invalid batchItemFailures response; the batch is retried", source.function)
                continue
            done = [message for message in batch if message["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                entries = [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                           for index, message in enumerate(done[start : start + 10])]  # fmt: skip
                self.clients.sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    # --- asynchronous invocation ---

    def _run_async(self, function: str) -> None:
        """Run one function's queued invocations, retries when due (`concurrency` runners share the queue)."""
        queue = self._pending[function]
        while True:
            with self._lock:
                while not self._stopping.is_set() and (not queue or queue[0].due > time.monotonic()):
                    self._lock.wait(queue[0].due - time.monotonic() if queue else None)
                if self._stopping.is_set():
                    return
                pending = heapq.heappop(queue)
            self._attempt(function, pending)

    def _attempt(self, function: str, pending: _Pending) -> None:
        config = self.routes.configs[function]
        if time.time() - pending.received > config.max_age:
            self._failed(function, pending, "EventAgeExceeded")
            return
        pending.attempts += 1
        try:
            response = self._invoke(function, pending.event)
        except Exception as exc:
            pending.error = getattr(exc, "payload", None) or {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            if pending.attempts > config.max_retries:
                self._failed(function, pending, "RetriesExhausted")
                return
            delay = self._delays[min(pending.attempts, len(self._delays)) - 1] if self._delays else 0.0
            pending.due = time.monotonic() + delay
            with self._lock:
                heapq.heappush(self._pending[function], pending)
            return
        if config.on_success:
            record = invocation_record(request_id=pending.request_id, function_arn=self._arn(function),
                                       condition="Success", invoke_count=pending.attempts,
                                       request_payload=pending.event, response=response)  # fmt: skip
            self._send(config.on_success, record, success=True, function=function)

    def _failed(self, function: str, pending: _Pending, condition: str) -> None:
        config = self.routes.configs[function]
        if not (config.on_failure or config.dead_letter):
            log.warning("%s: event %s discarded (%s, no destination)", function, pending.request_id, condition)
        if config.on_failure:
            record = invocation_record(request_id=pending.request_id, function_arn=self._arn(function),
                                       condition=condition, invoke_count=pending.attempts,
                                       request_payload=pending.event, error=pending.error)  # fmt: skip
            self._send(config.on_failure, record, success=False, function=function)
        if config.dead_letter:
            attributes = dead_letter_attributes(pending.request_id, pending.error)
            body = json.dumps(pending.event)
            if ":sns:" in config.dead_letter:
                self.clients.sns.publish(TopicArn=config.dead_letter, Message=body, MessageAttributes=attributes)
            else:
                self.clients.sqs.send_message(QueueUrl=self.clients.queue_url(config.dead_letter), MessageBody=body,
                                              MessageAttributes=attributes)  # fmt: skip

    def _send(self, destination: str, record: dict[str, Any], *, success: bool, function: str) -> None:
        """An invocation record to an OnSuccess/OnFailure destination (SQS, SNS, EventBridge or Lambda)."""
        service, body = destination.split(":")[2], json.dumps(record)
        if service == "lambda" and destination in self.routes.functions:
            self.invoke_async(self.routes.functions[destination], record)
        elif service == "sqs":
            self.clients.sqs.send_message(QueueUrl=self.clients.queue_url(destination), MessageBody=body)
        elif service == "sns":
            self.clients.sns.publish(TopicArn=destination, Message=body)
        elif service == "events":
            outcome = "Success" if success else "Failure"
            self.clients.events.put_events(Entries=[{
                "Source": "lambda", "DetailType": f"Lambda Function Invocation Result - {outcome}", "Detail": body,
                "EventBusName": destination, "Resources": [self._arn(function)],
            }])  # fmt: skip
        else:
            log.warning("%s: destination %s is not supported locally; record dropped", function, destination)

    def _arn(self, function: str) -> str:
        return next(arn for arn, logical_id in self.routes.functions.items() if logical_id == function)

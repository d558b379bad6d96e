"""Fixtures of the event router's tests: the fixture template in moto, a recording `invoke`, a started router."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.events.router import EventRouter, provision_messaging
from devstack.runtime.worker import FunctionError
from devstack.template.expand import expand
from devstack.template.resolve import LocalResolver, parameter_values, read_template

FIXTURES = Path(__file__).parent / "fixtures"
RETRY_DELAYS = (0.05, 0.1)
POLL_WAIT = 0.1
TIMEOUT = 10.0


class Calls:
    """A stand-in for the stack's `invoke`: records each invocation; `behaviours` decide what it returns or raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.behaviours: dict[str, Callable[[Any], Any]] = {}
        self._changed = threading.Condition()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        with self._changed:
            self.calls.append((function, event))
            self._changed.notify_all()
        behaviour = self.behaviours.get(function)
        return behaviour(event) if behaviour else None

    def of(self, function: str) -> list[Any]:
        with self._changed:
            return [event for name, event in self.calls if name == function]

    def wait_for(self, function: str, count: int = 1) -> list[Any]:
        """The function's events, once it has been invoked `count` times (fails after TIMEOUT)."""
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.of(function)) >= count, timeout=TIMEOUT)
        events = self.of(function)
        assert done, f"{function} was invoked {len(events)} times, expected {count}"
        return events


def function_with_events(events: dict[str, Any]) -> dict[str, Any]:
    """A template of one function `Fn` with these SAM events, expanded as the local stack reads templates."""
    source = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": "fn", "Handler": "app.handler", "Runtime": "python3.13", "Events": events},
    }}}  # fmt: skip
    return expand(source, parameter_values(source, {}))


def fail(event: Any) -> Any:
    raise FunctionError({"errorType": "ValueError", "errorMessage": "bad event", "stackTrace": ["line 1"]})


class Aws:
    """boto3 clients on the moto server, and the local values of the fixture template."""

    def __init__(self, endpoint: str, values: dict[str, str]) -> None:
        import boto3

        self.values = values
        self.sqs, self.sns, self.events, self.ssm = (
            boto3.client(name, endpoint_url=endpoint, region_name="us-east-1")
            for name in ("sqs", "sns", "events", "ssm")
        )

    def put_event(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
        if bus:
            entry["EventBusName"] = bus
        reply = self.events.put_events(Entries=[entry])
        assert reply["FailedEntryCount"] == 0, reply
        event_id: str = reply["Entries"][0]["EventId"]
        return event_id

    def receive(self, queue: str, count: int) -> list[dict[str, Any]]:
        """Wait (long polls) until `count` messages are on the queue (logical id); returns them, not deleted."""
        url, found = self.values[queue], {}
        deadline = time.monotonic() + TIMEOUT
        while len(found) < count and time.monotonic() < deadline:
            reply = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=30,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            found.update({message["MessageId"]: message for message in reply.get("Messages", [])})
        assert len(found) >= count, f"{queue} holds {len(found)} messages, expected {count}"
        return list(found.values())

    def wait_depth(self, queue: str, count: int) -> None:
        """Wait until the queue holds `count` messages (deletes follow an invocation's return, unobserved)."""
        deadline = time.monotonic() + TIMEOUT
        while self.depth(queue) != count:
            assert time.monotonic() < deadline, f"{queue} holds {self.depth(queue)} messages, expected {count}"
            time.sleep(0.05)

    def depth(self, queue: str) -> int:
        """Messages on the queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.values[queue],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def template() -> dict[str, Any]:
    return read_template(FIXTURES / "template.yaml")[0]


@pytest.fixture
def provisioned(moto_server: str, template: dict[str, Any]) -> dict[str, str]:
    return provision_messaging(template, moto_server)


@pytest.fixture
def aws(moto_server: str, provisioned: dict[str, str]) -> Aws:  # shadows the app's table fixture on purpose
    return Aws(moto_server, provisioned)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def router(
    moto_server: str, template: dict[str, Any], provisioned: dict[str, str], calls: Calls
) -> Iterator[EventRouter]:
    before = set(threading.enumerate())
    started = EventRouter(
        template,
        LocalResolver(template, provisioned),
        moto_server,
        calls,
        retry_delays=RETRY_DELAYS,
        poll_wait=POLL_WAIT,
    ).start()
    yield started
    started.stop()
    assert not [thread for thread in set(threading.enumerate()) - before if thread.name.startswith("events-")]

"""Scheduled rules: a timer per `rate(...)` schedule, the Scheduled Event shape, the async path (retries and
destinations), the local period override, disabled schedules, and what the router refuses (cron, Scheduler)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.events.router import EventRouter, provision_messaging, read_routes
from devstack.events.shapes import rate_seconds
from devstack.template.resolve import LocalResolver, read_template
from tests.devstack.events.conftest import FIXTURES, POLL_WAIT, RETRY_DELAYS, Aws, Calls, fail, function_with_events

ACCOUNT = "123456789012"
PERIOD = 0.3


@pytest.fixture
def template() -> dict[str, Any]:
    return read_template(FIXTURES / "schedules.yaml")[0]


@pytest.fixture
def values(moto_server: str, template: dict[str, Any]) -> dict[str, str]:
    return provision_messaging(template, moto_server)


@pytest.fixture
def started(
    moto_server: str, template: dict[str, Any], values: dict[str, str], calls: Calls
) -> Iterator[tuple[EventRouter, float]]:
    """The router with every schedule's period set to PERIOD; its start time (monotonic)."""
    before = set(threading.enumerate())
    router = EventRouter(template, LocalResolver(template, values), moto_server, calls, retry_delays=RETRY_DELAYS,
                         poll_wait=POLL_WAIT, schedule_seconds=PERIOD)  # fmt: skip
    start = time.monotonic()
    router.start()
    yield router, start
    router.stop()
    assert not [thread for thread in set(threading.enumerate()) - before if thread.name.startswith("events-")]


def test_a_schedule_invokes_its_function_every_period_with_a_scheduled_event(
    started: tuple[EventRouter, float], calls: Calls
) -> None:
    _, start = started
    times: list[float] = []
    calls.behaviours["SweepFunction"] = lambda event: times.append(time.monotonic())

    events = calls.wait_for("SweepFunction", 3)

    assert times[0] - start >= PERIOD * 0.9  # the first run one period after the start, as EventBridge
    assert all(later - earlier >= PERIOD * 0.5 for earlier, later in itertools.pairwise(times))
    event = events[0]
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert (event["version"], event["detail-type"], event["source"]) == ("0", "Scheduled Event", "aws.events")
    assert (event["account"], event["region"], event["detail"]) == (ACCOUNT, "us-east-1", {})
    assert event["time"].endswith("Z") and len(event["time"]) == len("2026-11-24T02:30:00Z")
    # Only the enabled schedule fires; the disabled one (fx-paused) never does.
    assert {e["resources"][0] for e in events} == {f"arn:aws:events:us-east-1:{ACCOUNT}:rule/SweepFunctionEveryMinute"}
    assert len({e["id"] for e in events}) == len(events)


def test_a_plain_scheduled_rule_gives_its_function_the_constant_input(
    started: tuple[EventRouter, float], calls: Calls
) -> None:
    assert calls.wait_for("ReportFunction", 2)[:2] == [{"report": "daily"}] * 2


def test_a_failing_scheduled_run_is_retried_then_sent_to_the_on_failure_destination(
    started: tuple[EventRouter, float], calls: Calls, moto_server: str, values: dict[str, str]
) -> None:
    calls.behaviours["SweepFunction"] = fail

    (message, *_) = Aws(moto_server, values).receive("FailureQueue", 1)

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert record["requestPayload"]["detail-type"] == "Scheduled Event"


def test_the_rules_exist_in_moto_with_their_schedule_and_state(
    started: tuple[EventRouter, float], moto_server: str, values: dict[str, str]
) -> None:
    events = Aws(moto_server, values).events
    every_minute = events.describe_rule(Name="SweepFunctionEveryMinute")
    assert (every_minute["ScheduleExpression"], every_minute["State"]) == ("rate(1 minute)", "ENABLED")
    assert events.describe_rule(Name="fx-paused")["State"] == "DISABLED"
    assert events.describe_rule(Name="fx-report")["ScheduleExpression"] == "rate(1 day)"


def test_stop_ends_the_timers_and_nothing_fires_after_it(
    moto_server: str, template: dict[str, Any], values: dict[str, str], calls: Calls
) -> None:
    router = EventRouter(template, LocalResolver(template, values), moto_server, calls, retry_delays=RETRY_DELAYS,
                         poll_wait=POLL_WAIT, schedule_seconds=0.05).start()  # fmt: skip
    calls.wait_for("SweepFunction", 1)
    router.stop()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("events-schedule-")]
    count = len(calls.calls)
    time.sleep(0.2)  # four periods: a timer still running would have fired
    assert len(calls.calls) == count


def test_without_an_override_the_templates_periods_are_used(template: dict[str, Any], values: dict[str, str]) -> None:
    routes = read_routes(template, LocalResolver(template, values))
    periods = {schedule.name: (schedule.period, schedule.enabled) for schedule in routes.schedules}
    assert periods == {
        "SweepFunctionEveryMinute": (60.0, True),
        "fx-paused": (7200.0, False),
        "fx-report": (86400.0, True),
    }
    with pytest.raises(ValueError, match="positive"):
        EventRouter(template, LocalResolver(template, values), "http://unused", Calls(), schedule_seconds=0)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
    ],
)
def test_rate_expressions(expression: str, seconds: float) -> None:
    assert rate_seconds(expression) == seconds


def function_with(event: dict[str, Any]) -> dict[str, Any]:
    return function_with_events({"Tick": event})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 12 * * ? *)", "cron schedules are not run"),
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(0 minutes)", "not run"),
        ("rate(5 seconds)", "not run"),
        ("every minute", "not run"),
    ],
)
def test_schedules_the_local_stack_cannot_run_stop_it_at_start(expression: str, message: str) -> None:
    template = function_with({"Type": "Schedule", "Properties": {"Schedule": expression}})
    with pytest.raises(ValueError, match=f"FnTick: .*{message}"):
        read_routes(template, LocalResolver(template, {}))


def test_scheduler_events_and_schedules_with_other_targets_are_refused() -> None:
    scheduler = function_with({"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)"}})
    rule = {"ScheduleExpression": "rate(1 minute)", "Targets": [{"Id": "Q", "Arn": "arn:aws:sqs:us-east-1:1:q"}]}
    to_queue = {"Resources": {"Rule": {"Type": "AWS::Events::Rule", "Properties": rule}}}
    with pytest.raises(ValueError, match="ScheduleV2"):
        read_routes(scheduler, LocalResolver(scheduler, {}))
    with pytest.raises(ValueError, match="not run by the local stack"):
        read_routes(to_queue, LocalResolver(to_queue, {}))

"""The router with real function processes: an event published from inside a running function is routed on,
and a function's real exception ends up in its on-failure destination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.events.router import EventRouter, provision_messaging
from devstack.runtime.worker import FunctionWorker
from devstack.template.functions import functions_of
from devstack.template.load import ROOT
from devstack.template.resolve import LocalResolver, read_template
from tests.devstack.events.conftest import FIXTURES, POLL_WAIT, RETRY_DELAYS, Aws


@pytest.fixture
def stack(moto_server: str) -> Iterator[tuple[Aws, dict[str, FunctionWorker]]]:
    template = read_template(FIXTURES / "workers.yaml")[0]
    values = provision_messaging(template, moto_server)
    resolver = LocalResolver(template, values)
    workers = {
        name: FunctionWorker(name, [str(ROOT / function.code_uri)], function.handler, {
            **function.environment, "AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": name,
        })
        for name, function in functions_of(template, resolver).items()
    }  # fmt: skip
    for worker in workers.values():
        worker.wait_ready()

    def invoke(function: str, event: dict[str, Any]) -> Any:
        return workers[function].invoke(event)

    router = EventRouter(template, resolver, moto_server, invoke, retry_delays=RETRY_DELAYS, poll_wait=POLL_WAIT)
    router.start()
    try:
        yield Aws(moto_server, values), workers
    finally:
        router.stop()
        for worker in workers.values():
            worker.stop()


def test_event_published_by_a_running_function_reaches_the_next_function_and_its_failure_the_destination(
    stack: tuple[Aws, dict[str, FunctionWorker]],
) -> None:
    aws, _ = stack
    aws.put_event("fx.worker", "Work", {"job": 7})

    (message,) = aws.receive("FailureQueue", 1)

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    sns = record["requestPayload"]["Records"][0]["Sns"]
    assert json.loads(sns["Message"]) == {"job": 7}  # published by PublisherFunction's process
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "cannot process this message"
    assert any("raise ValueError" in line for line in record["responsePayload"]["stackTrace"])

"""Fixtures of the ingest tests: the data table on moto, a recorder standing in for the real-time publisher
(given through the ingest and alerts wiring), and the event-driven functions' handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from devstack.functions import LambdaContext, load_handler


class PushRecorder:
    """`realtime.wiring.publish`, recorded; `fail` makes the next calls raise (a fan-out that is down)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.fail = 0

    def publish(self, tenant_id: str, channel: str, type_: str, data: Mapping[str, Any]) -> int:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("fan-out unavailable")
        # A round trip through JSON: what a subscriber would receive.
        self.calls.append((tenant_id, channel, type_, json.loads(json.dumps(data))))
        return len(self.calls)

    def of(self, channel: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        return [call for call in self.calls if call[1] == channel]


@pytest.fixture
def pushes() -> Iterator[PushRecorder]:
    from alphapulse.alerts import wiring as alerts_wiring
    from alphapulse.ingest import wiring as ingest_wiring

    recorder = PushRecorder()
    with (
        ingest_wiring.dependencies.override(ingest_wiring.IngestDependencies(publish=recorder.publish)),
        alerts_wiring.dependencies.override(alerts_wiring.AlertsDependencies(publish=recorder.publish)),
    ):
        yield recorder


@pytest.fixture
def table(aws: dict[str, str]) -> str:
    return aws["DataTable"]


def items(endpoint: str, table: str) -> list[dict[str, Any]]:
    """Every item of the table (a test may scan; the code never does)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    return list(client.scan(TableName=table).get("Items", []))


class Function:
    """One function's handler, invoked the way Lambda does for an asynchronous event."""

    def __init__(self, code_uri: str) -> None:
        self.handler = load_handler(code_uri)
        self.name = code_uri.rsplit("/", 1)[-1]

    def __call__(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LambdaContext(self.name))


@pytest.fixture
def ingest_function(table: str, pushes: PushRecorder) -> Function:
    return Function("functions/ingest")


@pytest.fixture
def alert_ingest_function(table: str, pushes: PushRecorder) -> Function:
    return Function("functions/alert_ingest")


def eventbridge(detail_type: str, detail: dict[str, Any], *, source: str = "alphapulse.trading") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-01-15T14:30:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sns(*messages: Any) -> dict[str, Any]:
    records = [
        {
            "EventSource": "aws:sns",
            "Sns": {
                "Type": "Notification",
                "MessageId": f"m-{number}",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                "Message": message if isinstance(message, str) else json.dumps(message),
                "Timestamp": "2026-01-15T14:31:02.118Z",
            },
        }
        for number, message in enumerate(messages)
    ]
    return {"Records": records}

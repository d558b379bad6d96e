"""Fixtures of the integration tests: the data table on moto, a recorder standing in for the real-time
publisher (given through the ingest and alerts wiring), and the event-driven functions' handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Function
from tests.fakes import PushRecorder


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


@pytest.fixture
def ingest_function(table: str, pushes: PushRecorder) -> Function:
    return Function("functions/ingest")


@pytest.fixture
def alert_ingest_function(table: str, pushes: PushRecorder) -> Function:
    return Function("functions/alert_ingest")

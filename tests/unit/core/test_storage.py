"""TableRepository.batch_write: 25 requests per call, unprocessed ones sent again, then a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from alphapulse.core import storage as base
from alphapulse.core.errors import DataAccessError
from alphapulse.core.storage import TableRepository


class ThrottlingClient:
    """Leaves the last request of every call unprocessed, `throttled` times in all."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.calls: list[list[Any]] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.calls.append(list(requests))
        if self.throttled:
            self.throttled -= 1
            return {"UnprocessedItems": {"T": requests[-1:]}}
        return {"UnprocessedItems": {}}


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "full_jitter", lambda attempt: None)


def requests(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"pk": {"S": str(n)}}}} for n in range(count)]


def test_batch_write_sends_25_at_a_time_and_resends_the_unprocessed() -> None:
    client = ThrottlingClient(throttled=2)
    TableRepository("T", client).batch_write(requests(30))  # type: ignore[arg-type]
    assert [len(call) for call in client.calls] == [25, 1, 1, 5]
    assert client.calls[1] == client.calls[0][-1:]
    assert client.calls[0] + client.calls[3] == requests(30)  # every request, each once after the retries


def test_batch_write_gives_up_with_a_clear_error_when_storage_keeps_throttling() -> None:
    client = ThrottlingClient(throttled=100)
    with pytest.raises(DataAccessError, match="kept throttling"):
        TableRepository("T", client).batch_write(requests(3))  # type: ignore[arg-type]
    assert len(client.calls) == base.BATCH_WRITE_ATTEMPTS

"""Releasing a claim on several items: one transaction per repository, each result in order, the refused
items left out and the rest sent again, conflicts retried, and a failure that releases nothing. Against moto."""

from __future__ import annotations

from typing import Any

import pytest

from alphapulse.aws import dynamodb
from alphapulse.aws.dynamodb import DynamoDBError, from_item, to_item
from alphapulse.core.claims import PUSH_PENDING, Claim, ClaimingRepository, ClaimTarget, release_all
from alphapulse.core.errors import DataAccessError

CLAIM = Claim.new("metrics:acme:2026-12-01T00:00:00Z", now=1_000.0, lease_seconds=15)
OTHER = Claim.new("metrics:acme:2026-12-01T00:00:00Z", now=1_005.0, lease_seconds=15)


class Recording:
    """The process's DynamoDB client, recording each operation called; `cancel` answers the next
    TransactWriteItems with a cancellation of these per-item codes instead of sending it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []  # (operation, items in a transaction)
        self.tokens: list[str] = []  # each transaction's ClientRequestToken
        self.cancel: list[list[str]] = []
        self.broken = False

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> Any:
            self.calls.append((operation, len(params.get("TransactItems", []))))
            if operation == "transact_write_items":
                self.tokens.append(params["ClientRequestToken"])
                if self.broken:
                    raise DynamoDBError("InternalServerError", "unavailable", 500, "TransactWriteItems", {})
                if self.cancel:
                    reasons = [{"Code": code} for code in self.cancel.pop(0)]
                    extra = {"CancellationReasons": reasons}
                    raise DynamoDBError("TransactionCanceledException", "cancelled", 400, "TransactWriteItems", extra)
            return getattr(dynamodb.client(), operation)(**params)

        return call


def key(name: str) -> dict[str, Any]:
    return to_item({"pk": "TENANT#acme#CLAIMS", "sk": name})


def put(table: str, name: str, claim: Claim) -> None:
    dynamodb.client().put_item(TableName=table, Item={**key(name), **to_item({PUSH_PENDING: str(claim)})})


def pending(table: str, name: str) -> str | None:
    item = dynamodb.client().get_item(TableName=table, Key=key(name), ConsistentRead=True).get("Item")
    assert item is not None, f"{name} is gone"
    value = from_item(item).get(PUSH_PENDING)
    return None if value is None else str(value)


@pytest.fixture
def table(aws: dict[str, str]) -> str:
    return aws["DataTable"]


@pytest.fixture
def client(aws: dict[str, str]) -> Recording:
    return Recording()


def targets(repository: ClaimingRepository, *names: str) -> list[ClaimTarget]:
    return [ClaimTarget(repository, key(name)) for name in names]


def test_the_claims_of_several_items_are_released_in_one_transaction(table: str, client: Recording) -> None:
    for name in "abcd":
        put(table, name, CLAIM)

    assert release_all(targets(ClaimingRepository(table, client), "a", "b", "c", "d"), CLAIM) == [True] * 4
    assert client.calls == [("transact_write_items", 4)]
    assert [pending(table, name) for name in "abcd"] == [None] * 4


def test_an_item_claimed_by_another_is_left_as_it_is_and_the_others_are_sent_again(
    table: str, client: Recording
) -> None:
    for name in "acd":
        put(table, name, CLAIM)
    put(table, "b", OTHER)  # taken over by a redelivery: no longer ours to clear

    assert release_all(targets(ClaimingRepository(table, client), "a", "b", "c", "d"), CLAIM) == [
        True,
        False,
        True,
        True,
    ]
    assert client.calls == [("transact_write_items", 4), ("transact_write_items", 3)]
    assert [pending(table, name) for name in "abcd"] == [None, str(OTHER), None, None]


def test_a_conflict_with_another_writer_is_retried_as_a_new_transaction(table: str, client: Recording) -> None:
    for name in "abc":
        put(table, name, CLAIM)
    client.cancel = [["None", "TransactionConflict", "None"]]

    assert release_all(targets(ClaimingRepository(table, client), "a", "b", "c"), CLAIM) == [True] * 3
    assert client.calls == [("transact_write_items", 3), ("transact_write_items", 3)]
    # Each attempt is its own transaction: a token makes only the client's resend of one attempt idempotent.
    assert len(set(client.tokens)) == 2 and all(len(token) == 32 for token in client.tokens)
    assert [pending(table, name) for name in "abc"] == [None] * 3


def test_conflicts_that_never_end_raise_and_release_nothing(table: str, client: Recording) -> None:
    for name in "ab":
        put(table, name, CLAIM)
    client.cancel = [["TransactionConflict", "None"]] * 10

    with pytest.raises(DataAccessError, match="conflicting"):
        release_all(targets(ClaimingRepository(table, client), "a", "b"), CLAIM)
    assert [pending(table, name) for name in "ab"] == [str(CLAIM)] * 2


def test_a_failed_transaction_raises_and_releases_nothing(table: str, client: Recording) -> None:
    for name in "abc":
        put(table, name, CLAIM)
    client.broken = True

    with pytest.raises(DataAccessError):
        release_all(targets(ClaimingRepository(table, client), "a", "b", "c"), CLAIM)
    assert [pending(table, name) for name in "abc"] == [str(CLAIM)] * 3


def test_a_single_claim_is_one_conditional_update(table: str, client: Recording) -> None:
    put(table, "only", CLAIM)

    assert release_all(targets(ClaimingRepository(table, client), "only"), CLAIM) == [True]
    assert client.calls == [("update_item", 0)]
    assert pending(table, "only") is None
    assert release_all([], CLAIM) == []


def test_more_items_than_a_transaction_holds_take_one_transaction_per_hundred(table: str, client: Recording) -> None:
    names = [f"p{n:03}" for n in range(150)]
    for name in names:
        put(table, name, CLAIM)

    assert release_all(targets(ClaimingRepository(table, client), *names), CLAIM) == [True] * 150
    assert client.calls == [("transact_write_items", 100), ("transact_write_items", 50)]
    assert {pending(table, name) for name in names} == {None}


def test_targets_of_two_repositories_are_answered_in_the_callers_order(table: str, client: Recording) -> None:
    for name in "abcd":
        put(table, name, CLAIM)
    first, second = ClaimingRepository(table, client), ClaimingRepository(table, client)

    mixed = [*targets(first, "a"), *targets(second, "b"), *targets(first, "c"), *targets(second, "d")]
    put(table, "c", OTHER)
    assert release_all(mixed, CLAIM) == [True, True, False, True]
    # first: a and c, then a alone (c is not ours); second: b and d.
    assert sorted(client.calls) == [("transact_write_items", n) for n in (1, 2, 2)]

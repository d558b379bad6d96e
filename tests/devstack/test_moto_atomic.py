"""moto's transactions, as the local stack and the tests run them: all or nothing, and cheap."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(aws: dict[str, str]) -> Any:
    client = boto3.client("dynamodb")
    client.put_item(TableName=aws["DataTable"], Item={"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"N": "1"}})
    return client, aws["DataTable"]


def _items(client: Any, name: str) -> dict[str, str]:
    items = client.scan(TableName=name, ConsistentRead=True)["Items"]
    return {f"{item['pk']['S']}/{item['sk']['S']}": item["v"]["N"] for item in items}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table: Any) -> None:
    client, name = table
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"N": "2"}}}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}, "v": {"N": "2"}}}},
            {"Update": {"TableName": name, "Key": {"pk": {"S": "C"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = :v", "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":v": {"N": "2"}}}},
        ])  # fmt: skip
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(client, name) == {"A/1": "1"}


def test_a_transaction_that_holds_applies_every_write(table: Any) -> None:
    client, name = table
    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": name, "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}}, "UpdateExpression": "SET v = :v",
                    "ConditionExpression": "v = :one",
                    "ExpressionAttributeValues": {":v": {"N": "3"}, ":one": {"N": "1"}}}},
        {"Put": {"TableName": name, "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}, "v": {"N": "3"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": name, "Key": {"pk": {"S": "Z"}, "sk": {"S": "9"}}}},
    ])  # fmt: skip
    assert _items(client, name) == {"A/1": "3", "B/1": "3"}


def test_a_transaction_does_not_copy_the_table(table: Any) -> None:
    """moto itself deep-copies each touched table once per item; the local stack must not."""
    import copy

    from moto.dynamodb.models.table import Table

    client, name = table
    shared: list[bool] = []  # per table "copy": whether it is the table itself
    original = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        result = original(value, memo)
        if isinstance(value, Table):
            shared.append(result is value)
        return result

    copy.deepcopy = counting
    try:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": f"K{n}"}, "sk": {"S": "1"}, "v": {"N": "1"}}}}
            for n in range(20)
        ])  # fmt: skip
    finally:
        copy.deepcopy = original
    assert len(_items(client, name)) == 21
    assert shared and all(shared), shared
    assert not hasattr(Table, "__deepcopy__")


def test_a_transaction_repeated_with_its_token_is_applied_once(table: Any) -> None:
    client, name = table
    key = {"pk": {"S": "A"}, "sk": {"S": "1"}}
    add_one = {"UpdateExpression": "ADD v :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    bump = [{"Update": {"TableName": name, "Key": key, **add_one}}]
    client.transact_write_items(TransactItems=bump, ClientRequestToken="retry-of-one-call")
    client.transact_write_items(TransactItems=bump, ClientRequestToken="retry-of-one-call")  # its response was lost
    assert _items(client, name) == {"A/1": "2"}
    client.transact_write_items(TransactItems=bump, ClientRequestToken="another-call")
    assert _items(client, name) == {"A/1": "3"}


def test_a_token_reused_for_another_request_is_refused(table: Any) -> None:
    client, name = table
    put = {"Put": {"TableName": name, "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}, "v": {"N": "1"}}}}
    client.transact_write_items(TransactItems=[put], ClientRequestToken="one-token")
    other = {"Put": {"TableName": name, "Item": {"pk": {"S": "C"}, "sk": {"S": "1"}, "v": {"N": "1"}}}}
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=[other], ClientRequestToken="one-token")
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _items(client, name) == {"A/1": "1", "B/1": "1"}

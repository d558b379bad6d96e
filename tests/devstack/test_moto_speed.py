"""moto's DynamoDB, as the local stack and the tests run it (devstack.emulation.speed): a Query on the table's
key reads its partition only, and answers exactly what reading the whole table would; projections and item
reads answer, byte for byte in JSON, what moto itself answers."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table


def _item(pk: str, sk: str, **extra: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in extra.items()}}


@pytest.fixture
def table(aws: dict[str, str]) -> tuple[Any, str]:
    client, name = boto3.client("dynamodb"), aws["DataTable"]
    for partition in ("A", "B", "C"):
        for index in range(30):
            kind = "even" if index % 2 == 0 else "odd"
            client.put_item(TableName=name, Item=_item(partition, f"T#{index:03d}", kind=kind, gsi1pk="G",
                                                       gsi1sk=f"{partition}{index:03d}"))  # fmt: skip
    return client, name


def _expected(client: Any, name: str, pk: str, keep: Any = lambda item: True, forward: bool = True) -> list[Any]:
    """What the Query should answer, worked out from a Scan of the whole table."""
    items = [item for item in client.scan(TableName=name, ConsistentRead=True)["Items"] if item["pk"]["S"] == pk]
    return sorted((item for item in items if keep(item)), key=lambda item: item["sk"]["S"], reverse=not forward)


@pytest.mark.parametrize("forward", [True, False])
def test_a_partition_is_answered_in_order_and_in_pages(table: tuple[Any, str], forward: bool) -> None:
    client, name = table
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = client.query(TableName=name, KeyConditionExpression="pk = :p", ScanIndexForward=forward,
                            ExpressionAttributeValues={":p": {"S": "B"}}, Limit=7, **extra)  # fmt: skip
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break

    assert [item for page in pages for item in page] == _expected(client, name, "B", forward=forward)
    assert [len(page) for page in pages][:4] == [7, 7, 7, 7]


def test_range_conditions_and_filters_hold(table: tuple[Any, str]) -> None:
    client, name = table
    found = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
        FilterExpression="kind = :kind",
        ExpressionAttributeValues={":p": {"S": "C"}, ":low": {"S": "T#005"}, ":high": {"S": "T#020"},
                                   ":kind": {"S": "odd"}},
    )["Items"]  # fmt: skip

    assert found == _expected(
        client, name, "C", lambda i: "T#005" <= i["sk"]["S"] <= "T#020" and i["kind"]["S"] == "odd"
    )
    assert [item["sk"]["S"] for item in found][:2] == ["T#005", "T#007"]


def test_a_missing_partition_is_empty_and_creates_nothing(table: tuple[Any, str]) -> None:
    client, name = table
    before = client.scan(TableName=name, Select="COUNT")["Count"]

    found = client.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "Z"}})

    assert found["Items"] == [] and found["Count"] == 0
    assert client.scan(TableName=name, Select="COUNT")["Count"] == before == 90


def test_an_index_query_still_reads_every_partition(table: tuple[Any, str]) -> None:
    client, name = table
    found = client.query(TableName=name, IndexName="gsi1", KeyConditionExpression="gsi1pk = :g",
                         ExpressionAttributeValues={":g": {"S": "G"}})["Items"]  # fmt: skip

    assert len(found) == 90
    assert [item["gsi1sk"]["S"] for item in found] == sorted(item["gsi1sk"]["S"] for item in found)


def test_a_table_query_does_not_list_the_whole_table(table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client, name = table
    listed: list[int] = []
    partition_items = Table.all_items

    def counting(self: Table) -> list[Any]:
        items = partition_items(self)
        listed.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting)  # the moto server runs in this process
    client.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "A"}})

    assert listed and max(listed) == 30  # the partition, not the table's 90 items


def test_a_table_without_a_sort_key_answers_its_one_item(moto_server: str) -> None:
    client = boto3.client("dynamodb")
    client.create_table(TableName="hash-only", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])  # fmt: skip
    for pk in ("a", "b", "c"):
        client.put_item(TableName="hash-only", Item={"pk": {"S": pk}, "v": {"S": pk * 2}})

    def query(pk: str) -> list[Any]:
        return client.query(TableName="hash-only", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": pk}})["Items"]  # fmt: skip

    assert query("b") == [{"pk": {"S": "b"}, "v": {"S": "bb"}}]
    assert query("z") == []


@pytest.mark.parametrize(
    "paths",
    [[["name"]], [["name"], ["nested"], ["missing"]], [["numbers"], ["name"], ["name"]], [["nested", "inner"]],
     [["listed[1]"]], [["nested"], ["nested", "inner"]]],
)  # fmt: skip
def test_a_projection_answers_what_moto_answers(moto_server: str, paths: list[list[str]]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {"pk": {"S": "A"}, "sk": {"S": "1"}, "name": {"S": "n"}, "numbers": {"NS": ["1", "2.5"]},
             "nested": {"M": {"inner": {"N": "3"}, "other": {"L": [{"S": "x"}, {"BOOL": True}]}}},
             "listed": {"L": [{"S": "a"}, {"M": {"b": {"B": "AQI="}}}]}}  # fmt: skip
    item = Item(hash_key=DynamoType(attrs["pk"]), range_key=DynamoType(attrs["sk"]), attrs=attrs)

    assert Item.project.__wrapped__ is not Item.project  # the local stack's projection is the one under test
    assert item.project(paths).to_json() == Item.project.__wrapped__(item, paths).to_json()


def _post(endpoint: str, operation: str, body: dict[str, Any]) -> tuple[str, Any]:
    """One DynamoDB call as it goes over the wire: the answer's content type and its JSON, not parsed by an SDK."""
    request = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST", headers={
        "X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})  # fmt: skip
    with urllib.request.urlopen(request) as response:
        return response.headers["Content-Type"], json.loads(response.read())


EVERY_TYPE = {
    "pk": {"S": "P"}, "n": {"N": "-12.50"}, "b": {"B": "AAEC/w=="}, "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ==", "Ag=="]}, "t": {"BOOL": True}, "z": {"NULL": True},
    "l": {"L": [{"S": "a"}, {"B": "Aw=="}, {"M": {"deep": {"L": [{"N": "0"}]}}}]}, "e": {"S": ""},
}  # fmt: skip
IN_P = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P"}}}
ONE, TWO, NONE = ({"pk": {"S": p}, "sk": {"S": s}} for p, s in (("P", "1"), ("P", "2"), ("Q", "0")))
ITEM_READ_CALLS = [  # an operation, its call (`{table}`: the data table's name), the names its answer has
    ("GetItem", {"Key": ONE, "ReturnConsumedCapacity": "TOTAL"}, "Item ConsumedCapacity"),
    ("GetItem", {"Key": NONE}, ""),
    ("GetItem", {"Key": ONE, "ProjectionExpression": "b, bs, l"}, "Item"),
    ("Query", {**IN_P, "Limit": 2, "ReturnConsumedCapacity": "INDEXES"},
     "Items Count ScannedCount LastEvaluatedKey ConsumedCapacity"),
    ("Query", {**IN_P, "ProjectionExpression": "#b, ns, sk", "ExpressionAttributeNames": {"#b": "b"}},
     "Items Count ScannedCount"),
    ("Query", {**IN_P, "Select": "COUNT"}, "Count ScannedCount"),
    ("Query", {**IN_P, "ExpressionAttributeValues": {":p": {"S": "nobody"}}}, "Items Count ScannedCount"),
    ("Query", {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :g",
               "ExpressionAttributeValues": {":g": {"S": "G"}}, "ReturnConsumedCapacity": "INDEXES"},
     "Items Count ScannedCount ConsumedCapacity"),
    ("Scan", {"Limit": 2, "FilterExpression": "attribute_exists(b)"}, "Items Count ScannedCount LastEvaluatedKey"),
    ("BatchGetItem", {"RequestItems": {"{table}": {"Keys": [ONE, NONE]}}, "ReturnConsumedCapacity": "TOTAL"},
     "Responses UnprocessedKeys ConsumedCapacity"),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "{table}", "Key": key}} for key in (TWO, NONE)]},
     "Responses"),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "body", "names"), ITEM_READ_CALLS)
def test_an_item_read_answers_what_moto_serialises(
    aws: dict[str, str],
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    body: dict[str, Any],
    names: str,
) -> None:
    from moto.dynamodb.responses import DynamoResult

    name = aws["DataTable"]
    client = boto3.client("dynamodb")
    for sk in ("1", "2", "3"):
        client.put_item(TableName=name, Item=_item("P", sk, gsi1pk="G", gsi1sk=sk))
    for sk in ("1", "2"):  # the wire's base64 strings, as a client sends them
        _post(moto_server, "PutItem", {"TableName": name, "Item": {**EVERY_TYPE, "sk": {"S": sk}}})
    call = json.loads(json.dumps(body).replace("{table}", name))
    call = call if operation in ("BatchGetItem", "TransactGetItems") else {"TableName": name, **call}

    encoded = _post(moto_server, operation, call)
    assert DynamoResult.execute_result.__wrapped__ is not DynamoResult.execute_result  # the patch is under test
    monkeypatch.setattr(DynamoResult, "execute_result", DynamoResult.execute_result.__wrapped__)
    serialised = _post(moto_server, operation, call)

    assert encoded == serialised
    assert sorted(encoded[1]) == sorted(names.split())


def test_an_answer_that_is_not_an_item_read_is_serialised_as_before(aws: dict[str, str], moto_server: str) -> None:
    content_type, described = _post(moto_server, "DescribeTable", {"TableName": aws["DataTable"]})

    assert content_type == "application/x-amz-json-1.0"
    assert isinstance(described["Table"]["CreationDateTime"], float)  # the serialiser's timestamp, not a datetime

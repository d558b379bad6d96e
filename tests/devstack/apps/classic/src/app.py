"""PUT /items/{id} stores the body; GET /items/{id} returns it with the function's environment."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
SHOWN = ("TABLE_NAME", "SECOND_ORIGIN", "FIRST_HOST", "MODE", "NOT_PROD", "PAGE_SIZE", "API_URL")


def handler(event, context):
    item_id = event["pathParameters"]["id"]
    if event["httpMethod"] == "PUT":
        table.put_item(Item={"id": item_id, "body": event["body"] or ""})
        return {"statusCode": 204, "body": ""}
    found = table.get_item(Key={"id": item_id}).get("Item")
    if found is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such item"})}
    environment = {name: os.environ.get(name) for name in SHOWN}
    return {"statusCode": 200, "body": json.dumps({"item": found, "environment": environment})}

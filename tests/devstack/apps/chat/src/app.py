"""The sample's three handlers: remember connections, forget them, and broadcast a message to all of them."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def on_connect(event, context):
    table.put_item(Item={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200, "body": "Connected."}


def on_disconnect(event, context):
    table.delete_item(Key={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200, "body": "Disconnected."}


def send_message(event, context):
    context_ = event["requestContext"]
    endpoint = f"https://{context_['domainName']}/{context_['stage']}"
    management = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    data = json.loads(event["body"])["data"]
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            management.post_to_connection(ConnectionId=item["connectionId"], Data=data.encode())
        except management.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": "Data sent."}

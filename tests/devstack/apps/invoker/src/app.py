"""`call` invokes the worker twice: once waiting for its answer, once as an event; `work` records each."""

import json
import os

import boto3


def call(event, context):
    client = boto3.client("lambda")
    item_id = event["pathParameters"]["id"]
    answer = client.invoke(
        FunctionName=os.environ["WORKER"],
        InvocationType="RequestResponse",
        Payload=json.dumps({"id": f"{item_id}-sync", "fail": event.get("body") == "fail"}),
    )
    queued = client.invoke(
        FunctionName=os.environ["WORKER"], InvocationType="Event", Payload=json.dumps({"id": f"{item_id}-async"})
    )
    body = {
        "sync": json.loads(answer["Payload"].read()),
        "sync_error": answer.get("FunctionError"),
        "async_status": queued["StatusCode"],
    }
    return {"statusCode": 200, "body": json.dumps(body)}


def work(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).put_item(Item={"id": event["id"]})
    return {"done": event["id"], "by": context.function_name}

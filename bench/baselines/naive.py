"""Baseline: a naive FastAPI + Mangum handler, boto3 resource created at import, one GetItem per request."""

import os

import boto3
from fastapi import FastAPI, HTTPException
from mangum import Mangum

table = boto3.resource("dynamodb").Table(os.environ["NAIVE_TABLE"])
app = FastAPI()


@app.get("/items/{item_id}")
def get_item(item_id: str) -> dict[str, object]:
    item = table.get_item(Key={"pk": item_id}).get("Item")
    if item is None:
        raise HTTPException(status_code=404, detail="not found")
    return item


handler = Mangum(app, lifespan="off")

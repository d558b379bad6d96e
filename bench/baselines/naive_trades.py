"""Peer of GET /trades?limit=100: the route a user would write instead. FastAPI + Mangum, a boto3 resource
created at import, one Query of the tenant's trades by time (newest first), the same Pydantic response model.
No token check: the peer gets that for free, so its figures favour it."""

import os

import boto3
from boto3.dynamodb.conditions import Key
from fastapi import FastAPI, Query
from mangum import Mangum

from alphapulse.core.pagination import Page
from alphapulse.trades.models import Trade

table = boto3.resource("dynamodb").Table(os.environ["DATA_TABLE"])
app = FastAPI()


@app.get("/trades", response_model=Page[Trade])
def list_trades(limit: int = Query(100, ge=1, le=500)) -> Page[Trade]:
    response = table.query(
        IndexName="gsi1",
        KeyConditionExpression=Key("gsi1pk").eq("T#default#TRADES"),
        ScanIndexForward=False,
        Limit=limit,
    )
    rows = [{k: v for k, v in row.items() if k in Trade.model_fields} for row in response["Items"]]
    return Page(items=[Trade.model_validate(row) for row in rows])


handler = Mangum(app, lifespan="off")

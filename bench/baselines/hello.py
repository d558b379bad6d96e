"""Baseline: the smallest FastAPI + Mangum Lambda handler (GET /hello), as FastAPI's tutorial writes it."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


handler = Mangum(app, lifespan="off")

"""The gateway with the local stack's real invoker: each function in its own warm process (devstack.runtime.worker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from devstack.gateways.websocket import WebSocketGateway, websocket_apis
from devstack.runtime.worker import FunctionWorker
from devstack.template.functions import functions_of
from devstack.template.load import ROOT
from devstack.template.resolve import LocalResolver, read_template
from tests.devstack.websocket.conftest import FIXTURES


@pytest.fixture(scope="module")
def worker_gateway() -> Iterator[WebSocketGateway]:
    template = read_template(FIXTURES / "ws_app.yaml")[0]
    resolver = LocalResolver(template, {})
    workers = {name: FunctionWorker(name, [str(ROOT / f.code_uri)], f.handler, {"AWS_LAMBDA_FUNCTION_NAME": name})
               for name, f in functions_of(template, resolver).items()}  # fmt: skip

    def invoke(logical_id: str, event: dict[str, Any]) -> Any:
        return workers[logical_id].invoke(event)

    (api,) = websocket_apis(template, resolver).values()
    gateway = WebSocketGateway(api, invoke, port=0).start()
    yield gateway
    gateway.stop()
    for worker in workers.values():
        worker.stop()


def test_functions_in_their_own_processes_reply_and_fail_like_lambda(worker_gateway: WebSocketGateway) -> None:
    with connect(f"ws://127.0.0.1:{worker_gateway.port}", open_timeout=20) as websocket:
        websocket.send('{"action": "echo", "n": 1}')
        echoed = json.loads(websocket.recv(timeout=20))
        assert echoed["n"] == 1 and echoed["connectionId"] in worker_gateway.connections
        websocket.send('{"action": "fail"}')
        assert json.loads(websocket.recv(timeout=20))["message"] == "Internal server error"
        websocket.send('{"action": "reply", "n": 2}')
        assert json.loads(websocket.recv(timeout=20)) == {"reply": 2}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{worker_gateway.port}?deny=403", open_timeout=20)
    assert refused.value.response.status_code == 403

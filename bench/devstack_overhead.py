"""What the local stack adds to a request to a warm function (`make bench`; issue #4: < 2 ms at p50).

The same handler answers the same route twice over:
- direct: imported in this process and called with the API Gateway event, as a test would;
- local stack: a real HTTP request to the local stack's REST port, which builds the event, sends it to the
  function's warm worker process over a pipe and maps the response back to HTTP.

The difference of the medians is the local stack's overhead. Both run in the same run, interleaved in
blocks, so machine noise hits both alike. Two routes: the public health check (no AWS call, so the
overhead is nearly all there is) and `GET /api/v1/trades` (one DynamoDB query to moto).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # devstack, when run as a plain script

TARGET_MS = 2.0


def timed(call: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per route and path (default 2000)")
    parser.add_argument("--blocks", type=int, default=10, help="interleaved blocks (default 10)")
    args = parser.parse_args()

    from devstack.gateways.rest import rest_event
    from devstack.run import LocalStack
    from devstack.runtime.handlers import LambdaContext, load_handler
    from devstack.template.resolve import STAGE

    secret = secrets.token_urlsafe(48)
    stack = LocalStack(http_port=free_port(), aws_port=free_port(), ws_port=free_port(), jwt_secret=secret)
    stack.start_aws()
    try:
        resolver = stack.provision()
        stack.seed_demo_users(stack.outputs["AuthTableName"])
        from devstack.demo import data as demo_data

        demo_data.seed(stack.outputs["DataTableName"], "default")
        routes = {
            "health": ("SystemFunction", "/api/v1/health"),
            "trades": ("TradesFunction", "/api/v1/trades?limit=5"),
        }
        stack.start_functions(resolver, only={function for function, _ in routes.values()})
        stack.serve_http()

        # The direct calls run in this process: give it the functions' environment before the first
        # settings read (they are cached), with the signing key itself instead of its secret.
        for function_id, _ in routes.values():
            os.environ.update(stack.functions[function_id].environment)
        os.environ.pop("JWT_SECRET_ARN", None)
        os.environ.update({"JWT_SECRET": secret, "APP_ENV": "local"})
        from alphapulse.auth.logic.tokens import issue_token

        token, _ = issue_token(typ="access", username="admin", tenant_id="default", role="admin", session_id="bench")
        headers = {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{stack.http_port}"}
        connection = http.client.HTTPConnection("127.0.0.1", stack.http_port)

        print(f"{'route':<8} {'direct p50 ms':>14} {'stack p50 ms':>13} {'overhead ms':>12} {'x direct':>9}  target")
        failed = False
        for name, (function_id, path) in routes.items():
            function = stack.functions[function_id]
            handler = load_handler(function.code_uri, function.handler)
            url = urlsplit(path)
            event = rest_event("GET", url.path, resource=url.path, path_parameters={}, headers=list(headers.items()),
                               query=parse_qsl(url.query), body=None, stage=STAGE, source_ip="127.0.0.1",
                               domain_name="127.0.0.1")  # fmt: skip
            context = LambdaContext(function_id)

            def direct(handler: Any = handler, event: dict[str, Any] = event, context: Any = context) -> None:
                assert handler(event, context)["statusCode"] == 200

            def through_stack(path: str = path) -> None:
                connection.request("GET", path, headers=headers)
                reply = connection.getresponse()
                reply.read()
                assert reply.status == 200, reply.status

            timed(direct, 50)
            timed(through_stack, 50)  # warm both: imports, first DynamoDB connection, verified-token cache
            direct_samples: list[float] = []
            stack_samples: list[float] = []
            per_block = max(1, args.requests // args.blocks)
            for _ in range(args.blocks):
                direct_samples += timed(direct, per_block)
                stack_samples += timed(through_stack, per_block)
            direct_p50, stack_p50 = statistics.median(direct_samples), statistics.median(stack_samples)
            overhead = stack_p50 - direct_p50
            verdict = "PASS" if overhead < TARGET_MS else "FAIL"
            failed |= verdict == "FAIL"
            print(f"{name:<8} {direct_p50:>14.3f} {stack_p50:>13.3f} {overhead:>12.3f} "
                  f"{stack_p50 / direct_p50:>9.2f}  overhead < {TARGET_MS} ms: {verdict}")  # fmt: skip
        print(json.dumps({"requests_per_route": args.requests, "note": "p50 over interleaved blocks"}))
        return 1 if failed else 0
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())

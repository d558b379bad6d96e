"""`python -m devstack run` starts the local stack; `invoke` runs one function on one event file."""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole application locally")
    invoke = commands.add_parser("invoke", help="run one function on one event, like `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. AuthFunction")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file")
    openapi = commands.add_parser("openapi", help="print the merged OpenAPI document")
    openapi.add_argument("--write", action="store_true", help="write docs/openapi.json and the layer's copy")
    openapi.add_argument("--check", action="store_true", help="exit 1 when a committed copy is out of date")
    args = parser.parse_args(argv)

    if args.command == "openapi":
        from devstack.openapi import main as openapi_main

        return openapi_main(["--write"] if args.write else ["--check"] if args.check else [])

    if args.command == "run":
        from devstack.run import main as run

        run()
        return 0

    from devstack.run import LocalStack

    with open(args.event) as handle:
        event = json.load(handle)
    stack = LocalStack(http_port=_free_port(), aws_port=_free_port(), jwt_secret=secrets.token_urlsafe(48))
    stack.start_aws()
    try:
        resolver = stack.provision()
        if stack.outputs.get("AuthTableName"):
            stack.seed_demo_users(stack.outputs["AuthTableName"])
        stack.start_functions(resolver)
        if args.function not in stack.workers:
            print(f"unknown function {args.function}; known: {', '.join(stack.workers)}", file=sys.stderr)
            return 2
        print(json.dumps(stack.invoke(args.function, event), indent=2))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

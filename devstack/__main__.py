"""`python -m devstack run` starts the local stack; `invoke` runs one function on one event file."""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from devstack.ports import free_port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole application locally")
    invoke = commands.add_parser("invoke", help="run one function on one event, like `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. AuthFunction")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file")
    event = commands.add_parser("event", help="put one trading event on the running local stack's bus")
    event.add_argument("detail_type", help="TradeExecuted, PortfolioUpdated, MetricsReported or SystemStatusReported")
    event.add_argument("detail", help="the event's detail, as JSON")
    alert = commands.add_parser("alert", help="publish one alert message on the running local stack's SNS topic")
    alert.add_argument("message", help="the alert message, as JSON (DESIGN §6)")
    openapi = commands.add_parser("openapi", help="print the merged OpenAPI document")
    openapi.add_argument("--write", action="store_true", help="write docs/openapi.json and the layer's copy")
    openapi.add_argument("--check", action="store_true", help="exit 1 when a committed copy is out of date")
    args = parser.parse_args(argv)

    if args.command == "openapi":
        from devstack.openapi import main as openapi_main

        return openapi_main(["--write"] if args.write else ["--check"] if args.check else [])

    if args.command in ("event", "alert"):
        return _send(args)

    if args.command == "run":
        from devstack.run import main as run

        run()
        return 0

    from devstack.run import LocalStack

    try:
        with open(args.event) as handle:
            event = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"cannot read the event file {args.event}: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(http_port=free_port(), aws_port=free_port(), ws_port=free_port(),
                       jwt_secret=secrets.token_urlsafe(48))  # fmt: skip
    stack.start_aws()
    try:
        resolver = stack.provision()
        if stack.outputs.get("AuthTableName"):
            stack.seed_demo_users(stack.outputs["AuthTableName"])
        stack.start_functions(resolver, only={args.function})
        if args.function not in stack.workers:
            print(f"unknown function {args.function}; known: {', '.join(stack.functions)}", file=sys.stderr)
            return 2
        print(json.dumps(stack.invoke(args.function, event), indent=2))
    finally:
        stack.stop()
    return 0


def _send(args: argparse.Namespace) -> int:
    """Put an event on the bus or an alert on the topic of the stack running on HTTP_PORT and AWS_PORT."""
    import os
    import urllib.request

    import boto3

    from devstack.run import LOCAL_CREDENTIALS

    http_port, aws_port = os.environ.get("HTTP_PORT") or "3000", os.environ.get("AWS_PORT") or "4566"
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/_local/outputs", timeout=10) as reply:
        outputs = json.load(reply)
    os.environ.update(LOCAL_CREDENTIALS)  # moto takes any credentials
    session = boto3.Session()
    endpoint = f"http://127.0.0.1:{aws_port}"
    if args.command == "event":
        entry = {"Source": "alphapulse.trading", "DetailType": args.detail_type, "Detail": args.detail,
                 "EventBusName": outputs["EventBusName"]}  # fmt: skip
        result = session.client("events", endpoint_url=endpoint).put_events(Entries=[entry])
        print(json.dumps(result["Entries"]))
        return 1 if result["FailedEntryCount"] else 0
    published = session.client("sns", endpoint_url=endpoint).publish(
        TopicArn=outputs["AlertsTopicArn"], Message=args.message
    )
    print(json.dumps({"MessageId": published["MessageId"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

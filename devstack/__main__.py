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
    run = commands.add_parser("run", help="start the whole application locally (or another SAM application)")
    run.add_argument("--template", default=None, help="a SAM template to run instead of AlphaPulse's")
    run.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                     help="template parameter values, as for sam deploy")  # fmt: skip
    run.add_argument("--stack-name", default=None, help="the value of AWS::StackName")
    invoke = commands.add_parser("invoke", help="run one function on one event, like `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. AuthFunction")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file")
    event = commands.add_parser("event", help="put one trading event on the running local stack's bus")
    event.add_argument("detail_type", help="TradeExecuted, PortfolioUpdated, MetricsReported or SystemStatusReported")
    event.add_argument("detail", help="the event's detail, as JSON")
    alert = commands.add_parser("alert", help="publish one alert message on the running local stack's SNS topic")
    alert.add_argument("message", help="the alert message, as JSON (DESIGN §6)")
    events = commands.add_parser("events", help="fill events/*.json with a demo user's tokens (running stack)")
    events.add_argument("--user", default="admin", help="a demo user of `make run` (default: admin)")
    events.add_argument("--out", default=".devstack/events", help="where the filled events go")
    image = commands.add_parser("lambda-image", help="build a stand-in of the Lambda Python base image (no registry)")
    image.add_argument("--runtime", default="python3.13")
    image.add_argument("--architecture", choices=["x86_64", "arm64"], default=None, help="default: this host's")
    image.add_argument("--force", action="store_true", help="rebuild even when the image is present")
    openapi = commands.add_parser("openapi", help="print the merged OpenAPI document")
    openapi.add_argument("--write", action="store_true", help="write docs/openapi.json and the layer's copy")
    openapi.add_argument("--check", action="store_true", help="exit 1 when a committed copy is out of date")
    args = parser.parse_args(argv)

    if args.command == "openapi":
        from devstack.openapi import main as openapi_main

        return openapi_main(["--write"] if args.write else ["--check"] if args.check else [])

    if args.command == "events":
        from pathlib import Path

        from devstack.demo import tokens as event_tokens

        return event_tokens.main(args.user, Path(args.out))

    if args.command == "lambda-image":
        from devstack.runtime import lambda_image

        architecture = args.architecture or lambda_image.host_architecture()
        return lambda_image.main(args.runtime, architecture, force=args.force)

    if args.command in ("event", "alert"):
        return _send(args)

    if args.command == "run":
        from pathlib import Path

        from devstack.run import main as run_stack
        from devstack.template.load import TEMPLATE
        from devstack.template.resolve import DEFAULT_STACK_NAME

        pairs = [pair.partition("=") for pair in args.parameter_overrides]
        if any(not sep or not key for key, sep, _ in pairs):
            print("error: --parameter-overrides takes KEY=VALUE pairs", file=sys.stderr)
            return 2
        template = Path(args.template) if args.template else TEMPLATE
        return run_stack(template, {key: value for key, _, value in pairs}, args.stack_name or DEFAULT_STACK_NAME)

    from devstack.demo import tokens as event_tokens
    from devstack.run import LocalStack

    try:
        with open(args.event) as handle:
            text = handle.read()
        json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"cannot read the event file {args.event}: {exc}", file=sys.stderr)
        return 2
    needs_token = bool(event_tokens.PLACEHOLDER.search(text))
    stack = LocalStack(http_port=free_port(), aws_port=free_port(), ws_port=free_port(),
                       jwt_secret=secrets.token_urlsafe(48))  # fmt: skip
    stack.start_aws()
    try:
        resolver = stack.provision()
        if stack.outputs.get("AuthTableName"):
            stack.seed_demo_users(stack.outputs["AuthTableName"])
        stack.start_functions(resolver, only={args.function, "AuthFunction"} if needs_token else {args.function})
        if args.function not in stack.workers:
            print(f"unknown function {args.function}; known: {', '.join(stack.functions)}", file=sys.stderr)
            return 2
        if needs_token:  # the demo admin's, from the stack's own login route, as `python -m devstack events` does
            stack.serve_http()
            base_url = f"http://{stack.host}:{stack.http_port}"
            text = event_tokens.fill(text, *event_tokens.tokens_of(base_url))
        print(json.dumps(stack.invoke(args.function, json.loads(text)), indent=2))
    finally:
        stack.stop()
    return 0


def _send(args: argparse.Namespace) -> int:
    """Put an event on the bus or an alert on the topic of the stack running on HTTP_PORT and AWS_PORT."""
    import os
    import urllib.request

    from botocore.exceptions import BotoCoreError, ClientError

    http_port, aws_port = os.environ.get("HTTP_PORT") or "3000", os.environ.get("AWS_PORT") or "4566"
    outputs_url = f"http://127.0.0.1:{http_port}/_local/outputs"
    try:
        with urllib.request.urlopen(outputs_url, timeout=10) as reply:
            outputs = json.load(reply)
    except (OSError, ValueError) as exc:
        print(f"error: no local stack answers at {outputs_url} ({exc}); start it with `make run`", file=sys.stderr)
        return 1
    try:
        return _put(args, outputs, f"http://127.0.0.1:{aws_port}")
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _put(args: argparse.Namespace, outputs: dict[str, str], endpoint: str) -> int:
    import os

    import boto3

    from devstack.run import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)  # moto takes any credentials
    session = boto3.Session()
    if args.command == "event":
        entry = {"Source": "alphapulse.trading", "DetailType": args.detail_type, "Detail": args.detail,
                 "EventBusName": outputs["EventBusName"]}  # fmt: skip
        result = session.client("events", endpoint_url=endpoint).put_events(Entries=[entry])
        print(json.dumps(result["Entries"]))
        return 1 if result["FailedEntryCount"] else 0
    from alphapulse.alerts.repositories.topic import message_attributes

    try:
        parsed = json.loads(args.message)
    except ValueError:  # published as it is: alert ingest refuses it, as it would in AWS
        parsed = None
    attributes = message_attributes(parsed) if isinstance(parsed, dict) else {}
    published = session.client("sns", endpoint_url=endpoint).publish(
        TopicArn=outputs["AlertsTopicArn"], Message=args.message, MessageAttributes=attributes
    )
    print(json.dumps({"MessageId": published["MessageId"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

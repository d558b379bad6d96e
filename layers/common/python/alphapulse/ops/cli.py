"""Operations: `python -m alphapulse.ops redrive --queue QUEUE [--stack STACK] [--dry-run]`.

Works against a deployed stack (your AWS credentials) or the local stack (--endpoint-url, or AWS_ENDPOINT_URL).
QUEUE is a queue URL, ARN or name, or with --stack a logical id of the template (IngestDeadLetterQueue). Exits 1
when anything failed again, and leaves it in the queue.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from alphapulse.aws import sdk
from alphapulse.ops.logic import redrive
from alphapulse.ops.models import RedriveReport
from alphapulse.ops.repositories import LambdaFunctions, SqsQueues, Stack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alphapulse.ops", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:4566 (env AWS_ENDPOINT_URL)")
    parser.add_argument("--region", help="AWS region (env AWS_REGION or AWS_DEFAULT_REGION)")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("redrive", help="send a dead-letter queue's messages back, once the cause is fixed")
    again.add_argument("--queue", required=True, help="queue URL, ARN or name; with --stack, a logical id")
    again.add_argument("--stack", help="a deployed stack whose resource --queue names (e.g. alphapulse-dashboard-dev)")
    again.add_argument("--dry-run", action="store_true", help="show what would be redriven; change nothing")
    return parser


def _use_endpoint(endpoint_url: str | None, region: str | None) -> None:
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        if endpoint_url.startswith(("http://127.0.0.1", "http://localhost")):
            # The local stack accepts any credentials; a newcomer may have none configured.
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    sdk.reset()


def _print(report: RedriveReport) -> None:
    name, verb = report.queue.name, "would redrive" if report.dry_run else "redriven"
    if report.method == "move task":
        sources = ", ".join(report.sources)
        if report.dry_run:
            print(f"{name}: {report.waiting} message(s) would move back to {sources} (SQS message move task)")
        else:
            print(f"{name}: {report.moved} message(s) moved back to {sources} (SQS message move task)")
        if report.task_failure:
            print(f"{name}: the move task ended {report.task_failure}; what was not moved is still in the queue")
        return
    for outcome in report.redriven:
        why = f" (failed first: {outcome.reason})" if report.dry_run and outcome.reason else ""
        print(f"{verb:<13} {outcome.message_id}  {outcome.target}  {outcome.what}{why}")
    for outcome in report.failed:
        print(f"{'failed again':<13} {outcome.message_id}  {outcome.target}  {outcome.what}: {outcome.reason}")
    kept = " (kept in the queue)" if report.failed else ""
    print(f"{name}: {len(report.redriven)} {verb}, {len(report.failed)} failed again{kept}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print what it did; 0 when everything went, 1 when anything failed or was refused."""
    args = _parser().parse_args(argv)
    _use_endpoint(args.endpoint_url, args.region)
    queues = SqsQueues()
    try:
        reference = args.queue
        if args.stack and not reference.startswith(("https://", "http://", "arn:")):
            reference = Stack().physical_id(args.stack, reference)
        report = redrive(queues.find(reference), queues, LambdaFunctions(), dry_run=args.dry_run)
    except sdk.SdkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

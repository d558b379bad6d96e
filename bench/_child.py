"""One measured cold start, run by coldstart.py in a fresh interpreter (python -S -P, Lambda-like sys.path).

Reads a JSON job on stdin: {"module", "attribute", "event", "warm", "tracing", "cpu", "context", "miss"}, where
"context" holds the attributes of a devstack LambdaContext made by the parent: this process imports only the
standard library and what the handler imports (devstack would bring PyYAML along). Times the import of the
handler module (init), then the first invocation, then `warm` more invocations, and prints one line
`@@bench@@ {json}` on stdout (the handler logs to stdout too). Exits non-zero, with the response on
stderr, when an invocation answers with a status >= 400.
"""

import json  # the Lambda runtime has json loaded before it imports the handler
import os
import sys
import time

MARKER = "@@bench@@ "


class Context:
    """The Lambda context object: the attributes of devstack's LambdaContext, sent by the parent as data."""

    def __init__(self, fields: dict, request_id: str) -> None:
        attributes = dict(fields)
        self._remaining_ms = int(attributes.pop("remaining_ms"))
        self.__dict__.update(attributes)
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def trace(sampled: bool) -> None:
    """Set the invocation's X-Ray trace header, as the Lambda runtime does before each invocation."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={root};Parent={os.urandom(8).hex()};Sampled={int(sampled)}"


def signed_label(endpoint, args, kwargs) -> str:
    """One of our SigV4 requests, (method, path, body, headers): the service and its operation."""
    headers = args[3] if len(args) > 3 else kwargs.get("headers", {})
    operation = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    if operation is None and len(args) > 2 and isinstance(args[2], bytes) and b"Action=" in args[2]:
        operation = args[2].split(b"Action=")[1].split(b"&")[0].decode()
    return f"{endpoint.service} {operation or args[0] + ' ' + args[1].split('?')[0]}"


def botocore_label(endpoint, args, kwargs) -> str:
    request = args[0] if args else kwargs.get("request")
    return f"botocore {getattr(request, 'method', '?')} {request.headers.get('X-Amz-Target', b'').decode() or ''}"


def check(response: object) -> None:
    if isinstance(response, dict) and int(response.get("statusCode", 200)) >= 400:
        print(json.dumps(response, indent=2), file=sys.stderr)
        sys.exit(f"handler answered {response['statusCode']}")


def main() -> None:
    job = json.loads(sys.stdin.read())
    if job["cpu"] is not None:
        os.sched_setaffinity(0, {job["cpu"]})  # one CPU: thread hand-offs stay on one core, less noise
    event_text = json.dumps(job["event"])
    fields = job["context"]

    t0 = time.perf_counter_ns()
    __import__(job["module"])
    handler = getattr(sys.modules[job["module"]], job["attribute"])
    t1 = time.perf_counter_ns()
    if job.get("restore"):  # SnapStart, simulated: the snapshot's hooks, then the restore's, in this process
        import snapshot_restore_py

        for hook, args, kwargs in [
            *snapshot_restore_py.get_before_snapshot(),
            *snapshot_restore_py.get_after_restore(),
        ]:
            hook(*args, **kwargs)
    # ns spent in AWS round trips (our SigV4 endpoint, or botocore's), to report the handler's own time. Wrapped
    # after init, which it must not change; botocore is imported at init by the baselines or not used at first.
    waited = [0]
    first_requests: list[list] = []  # the first call's round trips: [what, ms]

    def timed(send, label):
        def timed_send(self, *args, **kwargs):
            started = time.perf_counter_ns()
            try:
                return send(self, *args, **kwargs)
            finally:
                elapsed = time.perf_counter_ns() - started
                waited[0] += elapsed
                if len(first_requests) < 100 and job.get("requests"):
                    first_requests.append([label(self, args, kwargs), round(elapsed / 1e6, 2)])

        return timed_send

    endpoint = getattr(sys.modules.get("alphapulse.aws.sigv4"), "SignedEndpoint", None)
    if endpoint is not None:
        endpoint.request = timed(endpoint.request, signed_label)
    botocore_endpoint = getattr(sys.modules.get("botocore.endpoint"), "Endpoint", None)
    if botocore_endpoint is not None:  # the naive baselines: the HTTP exchange only, parsing stays theirs
        botocore_endpoint._send = timed(botocore_endpoint._send, botocore_label)
    if job["tracing"]:
        trace(sampled=True)  # a cold start is the first request: within the sampling reservoir
    profiler = None
    if job.get("profile"):  # the first call only (--profile): its slowest functions, cumulative, on stderr
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t_call = time.perf_counter_ns()
    response = handler(json.loads(event_text), Context(fields, fields["aws_request_id"]))
    t2 = time.perf_counter_ns()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(job["profile"])
    first_at = time.monotonic_ns()  # system-wide clock: the parent compares it with the spawn time
    first_waited = waited[0]
    job["requests"] = False  # only the first call's
    check(response)

    import statistics  # after the first response: not part of the cold start
    import uuid

    warm: list[int] = []
    own: list[int] = []
    for index in range(job["warm"]):
        if job["tracing"]:
            trace(sampled=index % 20 == 0)  # the default sampling rule's 5%
        request_id = str(uuid.uuid4())
        event = json.loads(event_text)
        if job.get("miss"):
            # A query parameter the route ignores but the cache key holds: every invocation is a miss.
            event["queryStringParameters"] = {**(event.get("queryStringParameters") or {}), "bench_miss": str(index)}
            multi = event.get("multiValueQueryStringParameters") or {}
            event["multiValueQueryStringParameters"] = {**multi, "bench_miss": [str(index)]}
        if isinstance(event.get("requestContext"), dict):  # API Gateway events; SQS, SNS and EventBridge have none
            event["requestContext"]["requestId"] = request_id
        context = Context(fields, request_id)
        waited[0] = 0
        start = time.perf_counter_ns()
        response = handler(event, context)
        warm.append(time.perf_counter_ns() - start)
        own.append(warm[-1] - waited[0])
        check(response)
    result = {
        "init_ns": t1 - t0,
        "first_ns": t2 - t0,
        "first_call_ns": t2 - t_call,
        "first_aws_ns": first_waited,
        "first_at_ns": first_at,
        "warm_p50_ns": statistics.median(warm) if warm else None,
        "warm_p90_ns": statistics.quantiles(warm, n=10)[-1] if len(warm) > 1 else None,
        "own_p50_ns": statistics.median(own) if own else None,
        "first_requests": first_requests,
    }
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

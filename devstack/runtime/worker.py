"""Warm function processes, as Lambda keeps containers warm.

A worker is one process: it sets the function's environment, puts its code and layers on sys.path,
imports the handler once, and then answers invocations over a pipe, one at a time, as one container
does. A pool holds up to `concurrency` workers of one function, started on demand as concurrent
invocations arrive (cold starts, as in Lambda), so invocations of one function run in parallel and
races show locally.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from devstack.template.load import ROOT


def _serve(connection: Connection, paths: list[str], handler: str, environment: dict[str, str]) -> None:
    # A terminal's Ctrl-C reaches the whole process group: the stack stops its workers itself, after the
    # last $disconnect, so a worker must not die of it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    sys.path[:0] = [*paths, str(ROOT)]  # the function's code, then its layers (/var/task, /opt/python)
    from devstack.runtime.handlers import LambdaContext, load_handler

    try:
        function = load_handler(paths[0], handler)
    except Exception as exc:  # as Lambda: this function's invocations fail, nothing else does
        traceback.print_exc()
        failure = {"errorType": "Runtime.ImportModuleError",
                   "errorMessage": f"Unable to import module '{handler}': {type(exc).__name__}: {exc}"}  # fmt: skip
        function = None
    name = environment.get("AWS_LAMBDA_FUNCTION_NAME", paths[0])
    timeout = float(environment.get("AWS_LAMBDA_FUNCTION_TIMEOUT", 3))
    connection.send(("ready", None))
    while True:
        try:
            event = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if event is None:
            return
        if function is None:
            connection.send(("error", failure))
            continue
        try:
            connection.send(("ok", function(event, LambdaContext(name, timeout=timeout))))
        except Exception as exc:  # the function raised: Lambda reports it as an invocation error
            connection.send(("error", {"errorType": type(exc).__name__, "errorMessage": str(exc),
                                       "stackTrace": traceback.format_exc().splitlines()}))  # fmt: skip


class FunctionError(RuntimeError):
    """The function raised instead of returning a response."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload['errorType']}: {payload['errorMessage']}")
        self.payload = payload


class FunctionWorker:
    """A warm function process; `invoke` is serialised, as one Lambda container serves one request."""

    def __init__(self, name: str, paths: list[str], handler: str, environment: dict[str, str]) -> None:
        self.name = name
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, paths, handler, environment), name=f"fn-{name}", daemon=True
        )
        self._lock = threading.Lock()
        self._process.start()
        child.close()
        self._ready = False

    def wait_ready(self) -> FunctionWorker:
        """Block until the handler is imported (start many workers first, then wait: they import in parallel)."""
        with self._lock:
            if not self._ready:
                try:
                    status, _ = self._connection.recv()
                except EOFError:
                    status = "exited"
                if status != "ready":
                    raise RuntimeError(f"function {self.name} did not start (its import failed; see the output above)")
                self._ready = True
        return self

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on `event` and return its result; FunctionError when it raised."""
        self.wait_ready()
        with self._lock:
            self._connection.send(event)
            status, payload = self._connection.recv()
        if status == "error":
            raise FunctionError(payload)
        return payload

    def stop(self) -> None:
        self.request_stop()
        self.join()

    def request_stop(self) -> None:
        """Ask the process to end. A process still in an invocation is not waited for here: `join` ends it."""
        if not self._lock.acquire(timeout=0.5):
            return
        try:
            with contextlib.suppress(OSError):  # the process is already gone
                self._connection.send(None)
        finally:
            self._lock.release()

    def join(self, timeout: float = 5) -> None:
        """Wait for the process to end; kill it past `timeout`."""
        self._process.join(timeout=timeout)
        if self._process.is_alive():
            self._process.kill()


DEFAULT_CONCURRENCY = 4


class FunctionPool:
    """Up to `concurrency` warm workers of one function. An invocation takes an idle worker, or starts one
    while there are fewer than `concurrency`, or waits for one to be free; one worker starts at once."""

    def __init__(
        self, name: str, paths: list[str], handler: str, environment: dict[str, str], *, concurrency: int
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.name = name
        self.concurrency = concurrency
        self._start = lambda: FunctionWorker(name, paths, handler, environment)
        self._workers = [self._start()]
        self._idle = list(self._workers)
        self._free = threading.Condition()

    def wait_ready(self) -> FunctionPool:
        """Block until the first worker has imported the handler (its import failing is an error here)."""
        self._workers[0].wait_ready()
        return self

    @property
    def size(self) -> int:
        """How many workers were started."""
        return len(self._workers)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on `event` in a free worker; FunctionError when it raised."""
        worker = self._acquire()
        try:
            return worker.invoke(event)
        finally:
            with self._free:
                self._idle.append(worker)
                self._free.notify()

    def _acquire(self) -> FunctionWorker:
        with self._free:
            while not self._idle and len(self._workers) >= self.concurrency:
                self._free.wait()
            if self._idle:
                return self._idle.pop()
            worker = self._start()
            self._workers.append(worker)
        try:
            return worker.wait_ready()  # a cold start, outside the lock: other invocations go on meanwhile
        except Exception:
            with self._free:
                self._workers.remove(worker)
                self._free.notify()
            worker.stop()
            raise

    def stop(self) -> None:
        self.request_stop()
        self.join()

    def request_stop(self) -> None:
        """Ask every worker to end (all at once: stopping a stack does not wait worker by worker)."""
        with self._free:
            workers = list(self._workers)
        for worker in workers:
            worker.request_stop()

    def join(self) -> None:
        with self._free:
            workers = list(self._workers)
        for worker in workers:
            worker.join()

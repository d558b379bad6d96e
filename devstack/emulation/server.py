"""moto's server as the local stack and the tests run it: patched to be faithful (atomic, sqs, moves)
and fast (speed).

The local stack runs it in a process of its own: every AWS call of every function goes through it, and
sharing one interpreter lock with the WebSocket gateway and the event router made it the stack's limit
(one core at 100 % while the other idled).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from typing import Any

from devstack.emulation.atomic import make_dynamodb_atomic
from devstack.emulation.moves import add_sqs_message_move_tasks
from devstack.emulation.speed import make_moto_fast
from devstack.emulation.sqs import make_sqs_long_polling_faithful


def patch_moto() -> None:
    """Apply every patch in this process (idempotent)."""
    make_dynamodb_atomic()
    make_sqs_long_polling_faithful()
    add_sqs_message_move_tasks()
    make_moto_fast()


def start_here(host: str, port: int, stack_url: str | None = None) -> Any:
    """moto's threaded server in this process, started; `.stop()` stops it. With `stack_url`, Lambda
    invocations go to the local stack there (devstack.runtime.lambda_api)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    patch_moto()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    if stack_url:
        from devstack.runtime.lambda_api import forwarding

        server._server.app = forwarding(server._server.app, stack_url)  # werkzeug reads .app at each request
    return server


def _serve(host: str, port: int, ready: Any, stack_url: str | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stack's to handle: it stops moto last
    parent = os.getppid()
    start_here(host, port, stack_url)
    ready.set()
    while os.getppid() == parent:  # until the stack terminates this process, or dies itself
        time.sleep(0.5)


def start_process(host: str, port: int, *, stack_url: str | None = None,
                  timeout: float = 60.0) -> multiprocessing.process.BaseProcess:  # fmt: skip
    """moto's server in a process of its own, listening once this returns; `.terminate()` stops it."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_serve, args=(host, port, ready, stack_url), name="moto", daemon=True)
    process.start()
    if not ready.wait(timeout):
        process.terminate()
        raise RuntimeError(f"moto did not start within {timeout:.0f} s")
    return process

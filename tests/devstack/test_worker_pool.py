"""Function pools: invocations of one function run in parallel, in up to `concurrency` warm processes
started on demand, as Lambda scales out; never more processes than that."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.runtime.worker import FunctionPool

CODE = "tests/devstack/events/fixtures/functions/pid"


@pytest.fixture
def pools() -> Iterator[list[FunctionPool]]:
    started: list[FunctionPool] = []
    yield started
    for pool in started:
        pool.stop()


def pool_of(pools: list[FunctionPool], concurrency: int) -> FunctionPool:
    pool = FunctionPool("Pid", [CODE], "app.handler", {"AWS_LAMBDA_FUNCTION_NAME": "Pid"}, concurrency=concurrency)
    pools.append(pool.wait_ready())
    return pool


def invoke_together(pool: FunctionPool, count: int, sleep: float) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as threads:
        return list(threads.map(lambda _: pool.invoke({"sleep": sleep})["pid"], range(count)))


def test_pool_starts_one_worker_and_more_only_when_invocations_overlap(pools: list[FunctionPool]) -> None:
    pool = pool_of(pools, 4)
    assert pool.size == 1
    assert len({pool.invoke({})["pid"] for _ in range(5)}) == 1  # one after the other: one warm process
    assert pool.size == 1


def test_overlapping_invocations_run_in_parallel_processes_up_to_the_limit(pools: list[FunctionPool]) -> None:
    pool = pool_of(pools, 3)
    pids = invoke_together(pool, 8, sleep=0.5)
    assert 2 <= len(set(pids)) <= 3
    assert pool.size <= 3


def test_concurrency_one_serialises_every_invocation(pools: list[FunctionPool]) -> None:
    pool = pool_of(pools, 1)
    assert len(set(invoke_together(pool, 4, sleep=0.1))) == 1
    assert pool.size == 1


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FunctionPool("Pid", [CODE], "app.handler", {}, concurrency=0)

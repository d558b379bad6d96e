"""The real SAM CLI: `sam build`, then `sam local invoke` of every function on each of its events in events/,
against `make run`, with no template edit (DESIGN §9). The `sam_path` fixture says what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.template.load import TEMPLATE, load_template, resources_of_type
from tests.conftest import ROOT
from tests.e2e.conftest import ARCHITECTURE, SAM, RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

# Event file prefix -> the function that receives it (the longest prefix wins).
FUNCTION_OF = {
    "alert-ingest-": "AlertIngestFunction",
    "alerts-": "AlertsFunction",
    "audit-": "AuditFunction",
    "auth-": "AuthFunction",
    "connection-sweeper-": "ConnectionSweeperFunction",
    "fanout-": "FanoutFunction",
    "ingest-": "IngestFunction",
    "metrics-": "MetricsFunction",
    "portfolio-": "PortfolioFunction",
    "publisher-": "PublisherFunction",
    "rules-": "RulesFunction",
    "system-": "SystemFunction",
    "trades-": "TradesFunction",
    "ws-connect": "WsConnectionFunction",
    "ws-disconnect": "WsConnectionFunction",
    "ws-": "WsMessageFunction",
}
# In this order, after the others: one alert is acknowledged, then resolved; logout revokes the session
# whose tokens the other events carry.
LAST = ("alerts-acknowledge", "alerts-resolve", "auth-logout")


def function_of(event_name: str) -> str:
    prefix = max((prefix for prefix in FUNCTION_OF if event_name.startswith(prefix)), key=len)
    return FUNCTION_OF[prefix]


def test_every_event_belongs_to_a_function_of_the_template() -> None:
    functions = set(resources_of_type(load_template(TEMPLATE), "AWS::Serverless::Function"))
    events = sorted(path.stem for path in (ROOT / "events").glob("*.json"))
    assert {function_of(name) for name in events} == functions  # and every function has an event


@pytest.fixture(scope="module")
def built(sam_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    result = subprocess.run([str(SAM), "build", "--build-dir", str(build_dir), "--parameter-overrides",
                             f"Architecture={ARCHITECTURE}"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PATH": sam_path}, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir / "template.yaml"


@pytest.fixture(scope="module")
def stack(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path, Path]]:
    """`make run` listening where containers reach it, its sam-env.json, and the events filled for admin."""
    work = tmp_path_factory.mktemp("sam-local")
    running = start_stack(logs=work, DEVSTACK_HOST="0.0.0.0", DEVSTACK_SAM_ENV=str(work / "sam-env.json"))  # noqa: S104
    try:
        port = running.base_url.rsplit(":", 1)[1]
        filled = subprocess.run([sys.executable, "-m", "devstack", "events", "--out", str(work / "events")],
                                cwd=ROOT, env={**os.environ, "HTTP_PORT": port}, capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert filled.returncode == 0, filled.stdout + filled.stderr
        yield running, work / "sam-env.json", work / "events"
    finally:
        stop_stack(running)


def invoke(built: Path, env_file: Path, function: str, event: Path) -> tuple[Any, str]:
    """`sam local invoke`: the function's answer (JSON), and what SAM printed on stderr."""
    result = subprocess.run([str(SAM), "local", "invoke", function, "--template", str(built), "-e", str(event),
                             "--env-vars", str(env_file), "--parameter-overrides", f"Architecture={ARCHITECTURE}",
                             "--skip-pull-image"], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    last_line = result.stdout.strip().splitlines()[-1]
    return json.loads(last_line), result.stderr


def rest_ok(answer: Any, stack: RunningStack) -> bool:
    return isinstance(answer, dict) and 200 <= answer.get("statusCode", 0) < 300


def pushed(answer: Any, stack: RunningStack) -> bool:
    return isinstance(answer, dict) and isinstance(answer.get("pushed"), int)  # 0 without subscribers


def no_failures(answer: Any, stack: RunningStack) -> bool:
    return answer == {"batchItemFailures": []}


Check = Callable[[Any, RunningStack], bool]
CHECKS: dict[str, Check] = {
    "alert-ingest-": pushed,
    "ingest-": pushed,
    "publisher-": no_failures,
    "fanout-": no_failures,
    "rules-": lambda answer, _: isinstance(answer, dict) and "published" in answer,
    "connection-sweeper-": lambda answer, _: isinstance(answer, dict) and answer.get("failed") == 0,
}


def check_of(event_name: str) -> Check:
    matches = [prefix for prefix in CHECKS if event_name.startswith(prefix)]
    return CHECKS[max(matches, key=len)] if matches else rest_ok  # REST and WebSocket routes: a 2xx answer


def test_sam_local_invoke_answers_every_event_of_every_function(
    stack: tuple[RunningStack, Path, Path], built: Path
) -> None:
    running, env_file, events = stack
    names = sorted(path.stem for path in events.glob("*.json"))
    first = "ws-connect-ticket"  # its ticket lives 60 s from `devstack events`
    rest = [name for name in names if name not in (first, *LAST)]
    answers: dict[str, Any] = {}

    def run(name: str) -> None:
        answers[name] = invoke(built, env_file, function_of(name), events / f"{name}.json")

    run(first)  # also builds SAM's image, once
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(run, rest))
    for name in LAST:
        run(name)
    failed = {name: answer for name, (answer, _) in answers.items() if not check_of(name)(answer, running)}
    assert not failed, json.dumps(failed, indent=1)[:5000]
    assert len(answers) == len(names)


def ingested(stack: tuple[RunningStack, Path, Path], built: Path, function: str, event: dict[str, Any]) -> str:
    """`sam local invoke` of an ingest function on `event`; the demo admin's Authorization, to read it back."""
    running, env_file, events = stack
    path = events.parent / f"{function}-changed.json"
    path.write_text(json.dumps(event))
    answer, _ = invoke(built, env_file, function, path)
    assert pushed(answer, running), answer
    authorization: str = json.loads((events / "trades-list.json").read_text())["headers"]["Authorization"]
    return authorization


def test_an_ingested_trade_is_stored(stack: tuple[RunningStack, Path, Path], built: Path) -> None:
    event = json.loads((stack[2] / "ingest-trade-executed.json").read_text())
    event["detail"]["trade_id"] = "SAM-LOCAL-1"
    token = ingested(stack, built, "IngestFunction", event)
    reply = httpx.get(f"{stack[0].base_url}/api/v1/trades/SAM-LOCAL-1", headers={"Authorization": token}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["symbol"] == event["detail"]["symbol"]


def test_an_ingested_alert_is_stored(stack: tuple[RunningStack, Path, Path], built: Path) -> None:
    event = json.loads((stack[2] / "alert-ingest-firing.json").read_text())
    message = {**json.loads(event["Records"][0]["Sns"]["Message"]), "dedup_key": "sam-local", "title": "SAM local"}
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    token = ingested(stack, built, "AlertIngestFunction", event)
    reply = httpx.get(f"{stack[0].base_url}/api/v1/alerts", headers={"Authorization": token}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert "SAM local" in [alert["title"] for alert in reply.json()["items"]], reply.text

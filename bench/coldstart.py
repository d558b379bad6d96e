"""Cold-start and warm-request benchmark of every Lambda function in template.yaml (`make bench`).

Each measurement is a fresh interpreter run like Lambda runs a handler: the base Python with -S
(no site-packages), and on sys.path only the function's code, the layer's third-party packages
(pip-installed once from layers/common/python/requirements.txt into .bench/layer/python) and the layer's
own package from the source tree. AWS calls go to a moto server started here, with the tables of
the template and a Secrets Manager secret holding the JWT signing key, which functions read with the
layer's own SigV4 client (alphapulse.aws.secrets), as they do in AWS.

The template, the functions' environments and the baselines' API Gateway events come from devstack
(template, stack, apigw, functions), so the bench reads template.yaml as the local stack does.

Per subject, bench/_child.py reports: init (importing the handler module), first response
(import + first invocation of a realistic API Gateway event) and the p50 of --warm invocations
after it. Subjects run round-robin, in a shuffled order per round, so machine noise hits all alike;
figures are medians over --runs rounds. Baselines: `python -c pass`, a hello-world FastAPI+Mangum
handler and a naive one (boto3 resource at import, one GetItem per request). The demo tenant's data is
seeded (`make run`'s demo data, 500 trades), and GET /trades?limit=100 is measured three more ways: ours on a
cache miss every time, ours on a hit, and the naive same-route peer (bench/baselines/naive_trades.py).

Every subject runs from a copy of its code as `python -m deploy` ships it: the layer's packages and the
tree's functions and layer source in .bench, compiled by the measured interpreter into hash-checked bytecode
(deploy.bytecode); no process writes bytecode (PYTHONDONTWRITEBYTECODE), as Lambda's code is read-only.
`--bytecode none` measures what plain `sam build` ships instead: no bytecode at all. A warm-up round runs
first and is not counted: it warms moto and the file cache. See bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import copy
import functools
import hashlib
import io
import json
import logging
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))  # devstack, when run as a plain script

from deploy.bytecode import INVALIDATION_MODE, compile_command  # noqa: E402
from devstack.emulation import server as moto_server  # noqa: E402
from devstack.events.router import provision_messaging  # noqa: E402
from devstack.gateways.rest import rest_event  # noqa: E402
from devstack.runtime.handlers import LambdaContext  # noqa: E402
from devstack.template.expand import local_code  # noqa: E402
from devstack.template.functions import Function, functions_of  # noqa: E402
from devstack.template.load import create_tables, resources_of_type, table_definition  # noqa: E402
from devstack.template.resolve import REGION, LocalResolver, read_template  # noqa: E402

CACHE = ROOT / ".bench"
LAYER_REQUIREMENTS = ROOT / "layers/common/python/requirements.txt"
LAYER_SOURCE = ROOT / "layers/common/python"
EVENTS = ROOT / "events"
CHILD = BENCH / "_child.py"
MARKER = "@@bench@@ "
# The event cases to measure per function directory: the first is the function's row, the others extra rows.
CASES = {
    "auth": ["me", "token"],
    "metrics": ["list"],
    "alerts": ["list"],
    "portfolio": ["get"],
    "trades": ["list"],
    "system": ["status"],
    "ws_connection": ["connect"],
    "ws_message": ["subscribe", "subscribe-portfolio"],
}
# Event files are events/<prefix>-<case>.json; the prefix is the code dir unless named here.
EVENT_PREFIXES = {"ws_connection": "ws", "ws_message": "ws", "alert_ingest": "alert-ingest",
                  "connection_sweeper": "connection-sweeper"}  # fmt: skip
TOKEN_PLACEHOLDER = "{{access_token}}"  # noqa: S105 (replaced by a freshly minted token)
# The login events' users get the role of the same name; tokens are minted for an admin, whose
# permissions let every route's event through.
DEMO_TENANT, TOKEN_ROLE, TOKEN_USERNAME = "default", "admin", "admin"
NAIVE_TABLE = "BenchNaiveTable"
# What the baselines' events carry, like the events/*.json files of the functions (a browser via API Gateway).
API_ID = "abcdef1234"
API_DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
CLIENT_IP = "203.0.113.10"
DASHBOARD_ORIGIN = "https://dashboard.alphapulse.example"
BASELINE_HEADERS = (  # the browser request of events/auth-me.json, less its Authorization
    ("Accept", "application/json"),
    ("Host", API_DOMAIN),
    ("Origin", DASHBOARD_ORIGIN),
    ("Referer", f"{DASHBOARD_ORIGIN}/"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"),
    ("X-Amzn-Trace-Id", "Root=1-674285c0-3f9d2c1b7a6e5d4c3b2a1f0e"),
    ("X-Forwarded-For", CLIENT_IP),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Proto", "https"),
)
# Targets (issue #15): a REST function's first response <= 0.70x the naive handler's, or <= 0.08x above the
# hello-world floor (hello's first response / naive's), whichever is larger; the WebSocket and event functions
# <= 0.40x; a REST function's warm p50 <= 1.5x hello-world's; with --against, no warm p50 more than 10 % worse
# than the other tree's.
TARGET_FIRST_RATIO = 0.70
TARGET_ABOVE_FLOOR = 0.08
TARGET_FIRST_RATIO_NOT_REST = 0.40
TARGET_WARM_RATIO = 1.5
TARGET_WARM_REGRESSION = 1.10
# Warm p50 of GET /trades?limit=100 against the naive same-route peer (issue #11).
TARGET_MISS_RATIO = 0.7
TARGET_HIT_RATIO = 0.4


@dataclass
class Subject:
    name: str
    kind: str  # "function", "extra" (another event of a function), "peer", "baseline" or "against"
    module: str
    attribute: str
    env: dict[str, str]
    event_text: str  # may hold TOKEN_PLACEHOLDER
    rest: bool = True
    first_target: float | None = TARGET_FIRST_RATIO  # first response vs naive (REST: raised to the floor's)
    tracing: bool = False  # Tracing: Active, so invocations carry an X-Ray trace header
    lambda_runtime: str = ""  # the template's Runtime, e.g. python3.13
    miss: bool = False  # every warm invocation a cache miss (a query parameter the cache key holds)
    tree: str = ""  # the --against tree's label ("" for the tree measured): the name ends in @<tree>
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def row(self) -> str:
        """The name without its tree's suffix: a row and its --against counterpart share it."""
        return self.name.removesuffix(f"@{self.tree}") if self.tree else self.name

    def median(self, metric: str) -> float | None:
        values = self.samples.get(metric) or []
        return statistics.median(values) if values else None


# --- the layer, as Lambda would see it ----------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    packages: Path  # the layer's third-party packages (.bench/layer-<hash>/python)
    source: Path  # the layer's own code (layers/common/python of the tree)


def layer_sources(template: dict[str, Any], template_dir: Path) -> tuple[Path, Path]:
    """(the layer's own code, its requirements.txt): SAM's python builder installs the requirements.txt
    found in the layer's ContentUri; until one is there, layers/common/python/requirements.txt."""
    source = LAYER_SOURCE
    for layer in resources_of_type(template, "AWS::Lambda::LayerVersion").values():
        source = (template_dir / str(local_code(layer["Properties"]["Content"]))).resolve()
        break
    requirements = source / "requirements.txt"
    return source, requirements if requirements.exists() else LAYER_REQUIREMENTS


@functools.cache
def python_version(python: str) -> str:
    command = [python, "-c", "import sys; print(sys.version)"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def compile_code(python: str, directory: Path) -> None:
    """What `python -m deploy` does to a build (deploy.bytecode), with the measured interpreter."""
    done = subprocess.run(compile_command(python, directory), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"compiling {directory} failed:\n{done.stdout}\n{done.stderr}")


def build_layer(python: str, requirements: Path, bytecode: bool) -> Path:
    """pip-install the layer's requirements once into .bench/layer-<hash>/python, keyed by their hash (and the
    interpreter's version, and the bytecode), so that trees with different requirements each keep theirs. pip's
    own bytecode is left out: SAM's builder ships none (deploy.bytecode)."""
    mode = INVALIDATION_MODE if bytecode else "no bytecode"
    key = hashlib.sha256(requirements.read_bytes() + python_version(python).encode() + mode.encode()).hexdigest()
    layer = CACHE / f"layer-{key[:16]}"
    stamp = layer / "key"
    if stamp.exists() and stamp.read_text() == key:
        return layer / "python"
    print(f"building the layer's packages into {layer.relative_to(ROOT)}/python ...", file=sys.stderr)
    shutil.rmtree(layer, ignore_errors=True)
    pip = [sys.executable, "-m", "pip"] if python == base_python() else [python, "-m", "pip"]
    command = [*pip, "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location", "--no-compile"]
    command += ["-r", str(requirements), "--target", str(layer / "python")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"pip install of the layer failed:\n{done.stdout}\n{done.stderr}")
    if bytecode:
        compile_code(python, layer / "python")
    stamp.write_text(key)
    return layer / "python"


# --- template.yaml ------------------------------------------------------------------------------------------


@dataclass
class Tree:
    """A source tree to measure: its template, as the local stack reads it, and its layer."""

    label: str  # "" for the tree measured; with --against, the other tree's name, appended to its rows' names
    template: dict[str, Any]
    parameters: dict[str, str]
    layer: Layer
    code_root: Path  # where the staged copy of the tree's functions/ is (`staged`): CodeUris are relative to it

    @property
    def suffix(self) -> str:
        return f"@{self.label}" if self.label else ""


def staged(source: Path, name: str, python: str, bytecode: bool) -> Path:
    """A fresh copy of `source` (its bytecode left out) in .bench/staged/<name>, compiled unless `bytecode` is
    off: the measured code as `python -m deploy` ships it."""
    target = CACHE / "staged" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt"))
    if bytecode:
        compile_code(python, target)
    return target


def load_tree(template_path: Path, label: str, python: str, bytecode: bool) -> Tree:
    """The tree of `template_path`, measured from copies of its functions and its layer's source (`staged`)."""
    template, parameters = read_template(template_path)  # expanded by SAM's translator, resolved
    source, requirements = layer_sources(template, template_path.parent)
    name = label or "measured"
    functions = staged(template_path.parent / "functions", f"{name}/functions", python, bytecode)
    layer = Layer(build_layer(python, requirements, bytecode), staged(source, f"{name}/layer", python, bytecode))
    return Tree(label, template, parameters, layer, functions.parent)


def against_template(spec: str) -> tuple[Path, str]:
    """--against: a template.yaml path, or a git revision of this repository, extracted once into
    .bench/trees/<commit> (git archive). Returns the template's path and the rows' label."""
    path = Path(spec)
    if path.is_file():
        return path.resolve(), path.resolve().parent.name
    git = shutil.which("git")
    if git is None:
        sys.exit(f"--against {spec}: not a template file, and git is not installed to read it as a revision")
    found = subprocess.run([git, "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if found.returncode != 0:
        sys.exit(f"--against {spec}: neither a template file nor a git revision of {ROOT}")
    commit = found.stdout.strip()
    tree = CACHE / "trees" / commit
    if not (tree / "template.yaml").is_file():
        print(f"extracting {spec} ({commit[:12]}) into {tree.relative_to(ROOT)} ...", file=sys.stderr)
        partial = tree.with_name(f"{commit}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = subprocess.run([git, "-C", str(ROOT), "archive", commit], capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
            files.extractall(partial, filter="data")
        partial.rename(tree)
    return tree / "template.yaml", spec


@dataclass
class Deployment:
    """What the bench needs of a function beyond devstack's Function: where its code is and how it runs."""

    function: Function
    code_dir: Path
    module: str
    attribute: str
    memory: int
    tracing: bool  # Tracing: Active
    runtime: str  # e.g. python3.13

    @property
    def rest(self) -> bool:
        return bool(self.function.routes)


def deployments(
    template: dict[str, Any], code_root: Path, resolver: LocalResolver
) -> tuple[list[Deployment], list[str]]:
    """Every zip-packaged function of the template (devstack's model plus memory, tracing, runtime), and
    the functions left out (image or inline code: nothing to import from a CodeUri)."""
    resources = resources_of_type(template, "AWS::Lambda::Function")
    left_out = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Properties"].get("PackageType") == "Image"
        or local_code(resource["Properties"].get("Code")) is None
    }
    zipped = {**template, "Resources": {k: v for k, v in template["Resources"].items() if k not in left_out}}
    found = []
    for logical_id, function in functions_of(zipped, resolver).items():
        props = resources[logical_id]["Properties"]
        module, attribute = function.handler.rsplit(".", 1)
        found.append(
            Deployment(
                function=function,
                code_dir=(code_root / function.code_uri).resolve(),
                module=module,
                attribute=attribute,
                memory=int(resolver.resolve(props.get("MemorySize", 128))),
                tracing=resolver.resolve(props.get("TracingConfig", {}).get("Mode")) == "Active",
                runtime=str(resolver.resolve(props.get("Runtime", ""))),
            )
        )
    return found, [f"{logical_id} (not a zip package with a CodeUri)" for logical_id in left_out]


def stage_of(template: dict[str, Any]) -> str:
    """The stage the bench deploys: the Stage parameter's default (the events/*.json files use it too)."""
    return str(template.get("Parameters", {}).get("Stage", {}).get("Default", "dev"))


# --- the local AWS ------------------------------------------------------------------------------------------


def aws_env(endpoint: str, session_token: str) -> dict[str, str]:
    """The credentials Lambda gives a function (any work with moto), its region and the moto endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": session_token,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


@dataclass
class Runtime:
    """How every measured process runs: interpreter, the Lambda runtime's packages and the moto endpoint."""

    python: str
    runtime_packages: Path  # what Lambda's Python runtime puts on every function's path (snapshot_restore_py)
    endpoint: str  # moto
    session_token: str  # AWS_SESSION_TOKEN of every process, as Lambda sets it
    xray_daemon: str  # a UDP socket of ours that swallows the X-Ray segments
    cpu: int | None  # the CPU every measured process is pinned to

    def command(self, *args: str) -> list[str]:
        """The interpreter without site-packages (-S) nor the script's directory on sys.path (-P)."""
        return [self.python, "-S", "-P", "-X", "frozen_modules=on", *args]

    def env(self, name: str, memory: int, code_dir: Path, layer: Layer) -> dict[str, str]:
        """What a process of the Lambda Python runtime has (and only that), pointed at moto."""
        home = CACHE / "home"  # empty: no ~/.aws of the developer
        home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": str(home),
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code directories are read-only
            "PYTHONPATH": os.pathsep.join(map(str, [code_dir, layer.packages, layer.source, self.runtime_packages])),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python" + ".".join(python_version(self.python).split(".")[:2]),
            # Libraries look for LAMBDA_TASK_ROOT to know they run in Lambda: without it the X-Ray SDK
            # builds a sampler with two botocore clients at import (~100 ms) that Lambda never pays.
            "LAMBDA_TASK_ROOT": str(code_dir),
            "AWS_XRAY_DAEMON_ADDRESS": self.xray_daemon,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",  # a cold start, as Lambda says it (not a SnapStart restore)
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": "AlphaPulse",
            **aws_env(self.endpoint, self.session_token),
        }


# --- events -------------------------------------------------------------------------------------------------


def baseline_event(stage: str, path: str, resource: str, path_parameters: dict[str, str] | None) -> dict[str, Any]:
    """A GET through API Gateway's REST proxy, with the headers a browser sends (as events/*.json have)."""
    return rest_event(
        "GET",
        path,
        resource=resource,
        path_parameters=path_parameters,
        headers=BASELINE_HEADERS,
        stage=stage,
        source_ip=CLIENT_IP,
        api_id=API_ID,
        domain_name=API_DOMAIN,
    )


def routed(function: Function, event: dict[str, Any]) -> bool:
    """Whether API Gateway would send `event` to `function` (any event, for a function without API routes)."""
    method, path = str(event.get("httpMethod", "")), str(event.get("path", ""))
    return not function.routes or any(route.match(method, path) is not None for route in function.routes)


def event_files(name: str, function: Function) -> list[tuple[str, Path]]:
    """(case, file) to measure for a function whose code dir is `name`: the cases of CASES, else its first
    events/<name>-*.json file; either way only events that one of the function's routes accepts."""
    wanted = CASES.get(name)
    prefix = EVENT_PREFIXES.get(name, name)
    if wanted:
        paths = [EVENTS / f"{prefix}-{case}.json" for case in wanted]
        for path in paths:
            if not path.exists():
                sys.exit(f"{function.logical_id}: missing event file {path.relative_to(ROOT)} (CASES)")
    else:
        paths = sorted(EVENTS.glob(f"{prefix}-*.json"))
    found = []
    for path in paths:
        try:
            event = json.loads(path.read_text())
        except ValueError as exc:
            sys.exit(f"{path.relative_to(ROOT)}: not JSON ({exc})")
        if isinstance(event, dict) and routed(function, event):
            found.append((path.stem.removeprefix(f"{prefix}-"), path))
    return found if wanted else found[:1]


def credentials_in(event: dict[str, Any]) -> dict[str, str] | None:
    """Username and password of a login event's body (form or JSON), if it is one."""
    body = event.get("body") or ""
    try:
        fields = json.loads(body) if body.lstrip().startswith("{") else dict(parse_qsl(body))
    except ValueError:
        return None
    if isinstance(fields, dict) and "username" in fields and "password" in fields:
        return {"username": str(fields["username"]), "password": str(fields["password"])}
    return None


# --- measuring ----------------------------------------------------------------------------------------------


def runtime_packages() -> Path:
    """Lambda's managed Python runtimes give every function `snapshot_restore_py` (SnapStart's hooks): copied from
    the dev venv into .bench/runtime, so that functions register their hooks as in Lambda."""
    import snapshot_restore_py  # type: ignore[import-untyped]

    target = CACHE / "runtime"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(snapshot_restore_py.__file__, target / "snapshot_restore_py.py")
    return target


def base_python() -> str:
    """The interpreter the venv was made from (its stdlib, none of its packages)."""
    return str(getattr(sys, "_base_executable", sys.executable))


def context_fields(subject: Subject) -> dict[str, Any]:
    """devstack's LambdaContext for the subject, as data: the child rebuilds it without importing devstack
    (which would put PyYAML and devstack on its path). `remaining_ms` answers get_remaining_time_in_millis()."""
    name, memory = subject.env["AWS_LAMBDA_FUNCTION_NAME"], int(subject.env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    context = LambdaContext(function_name=name, memory_mb=memory)
    return {**vars(context), "remaining_ms": context.get_remaining_time_in_millis()}


def run_child(
    runtime: Runtime,
    subject: Subject,
    token: str,
    warm: int,
    importtime: bool = False,
    requests: bool = False,
    profile: int = 0,
    restore: bool = False,
) -> dict[str, Any]:
    job = {
        "module": subject.module,
        "attribute": subject.attribute,
        "event": json.loads(subject.event_text.replace(TOKEN_PLACEHOLDER, token)),
        "warm": warm,
        "tracing": subject.tracing,
        "cpu": runtime.cpu,
        "context": context_fields(subject),
        "miss": subject.miss,
        "requests": requests,
        "profile": profile,
        "restore": restore,
    }
    # Lambda tells a SnapStart init by its initialization type (and our code does not prefetch the key for it).
    env = {**subject.env, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"} if restore else subject.env
    command = runtime.command(*(["-X", "importtime"] if importtime else []), str(CHILD))
    spawned = time.monotonic_ns()
    done = subprocess.run(command, input=json.dumps(job), capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        sys.exit(f"{subject.name} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(MARKER))
    result["process_first_ns"] = result["first_at_ns"] - spawned
    result["stderr"] = done.stderr
    return result


def measure_pass(runtime: Runtime, env: dict[str, str]) -> float:
    """Wall time of a whole `python -c pass` process, in ms."""
    start = time.perf_counter_ns()
    subprocess.run(runtime.command("-c", "pass"), env=env, check=True)
    return (time.perf_counter_ns() - start) / 1e6


def record(subject: Subject, result: dict[str, Any]) -> None:
    for metric, value in (
        ("init_ms", result["init_ns"] / 1e6),
        ("first_ms", result["first_ns"] / 1e6),
        ("process_first_ms", result["process_first_ns"] / 1e6),
        ("first_call_ms", result["first_call_ns"] / 1e6),
        ("first_aws_ms", result["first_aws_ns"] / 1e6),
        ("warm_p50_us", result["warm_p50_ns"] / 1e3 if result["warm_p50_ns"] is not None else None),
        ("own_p50_us", result["own_p50_ns"] / 1e3 if result.get("own_p50_ns") is not None else None),
    ):
        if value is not None:
            subject.samples.setdefault(metric, []).append(value)


def top_imports(stderr: str, count: int) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    """From -X importtime output: the `count` slowest imports (cumulative us, self us, module, indented
    by depth) and the `count` top-level packages with the most import time (self us summed)."""
    rows, packages = [], collections.Counter[str]()
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (.*)$", line)
        if match:
            self_us, module = int(match.group(1)), match.group(3).rstrip()
            rows.append((int(match.group(2)), self_us, module))
            packages[module.strip().split(".")[0]] += self_us
    return sorted(rows, reverse=True)[:count], [(us, name) for name, us in packages.most_common(count)]


# --- output -------------------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(runtime: Runtime, subjects: list[Subject], pass_ms: list[float], args: argparse.Namespace) -> dict[str, Any]:
    by_name = {subject.name: subject for subject in subjects}
    naive_first = by_name["baseline/naive"].median("first_ms")
    hello_first = by_name["baseline/hello"].median("first_ms")
    hello_warm = by_name["baseline/hello"].median("warm_p50_us")
    floor = hello_first / naive_first if hello_first and naive_first else 0.0
    rest_target = max(TARGET_FIRST_RATIO, floor + TARGET_ABOVE_FLOOR)
    against = {subject.row: subject for subject in subjects if subject.tree}
    label = next((subject.tree for subject in against.values()), "")
    width = max(18, *(len(subject.name) for subject in subjects))
    header = (
        f"{'name':<{width}} {'init ms':>8} {'first ms':>9} {'init %':>7} {'call ms':>8} {'AWS ms':>7} {'x naive':>8} "
        f"{'proc ms':>8} "
        f"{'warm p50 us':>12} {'x hello':>8} {'own p50 us':>11} {'x hello':>8} {'x against':>9}  targets"
    )
    print()
    print(header)
    print("-" * len(header))
    results: dict[str, Any] = {}
    for subject in subjects:
        first, warm = subject.median("first_ms"), subject.median("warm_p50_us")
        first_ratio = first / naive_first if first is not None and naive_first else None
        warm_ratio = warm / hello_warm if warm is not None and hello_warm else None
        own = subject.median("own_p50_us")
        own_ratio = own / hello_warm if own is not None and hello_warm else None
        init = subject.median("init_ms")
        init_share = init / first if init is not None and first else None
        counterpart = against.get(subject.row) if not subject.tree else None
        warm_before = counterpart.median("warm_p50_us") if counterpart else None
        warm_change = warm / warm_before if warm is not None and warm_before else None
        marks = []
        if subject.kind == "function":
            target = rest_target if subject.rest else subject.first_target
            if target is not None and first_ratio is not None:
                ok = first_ratio <= target
                marks.append(f"first<={target:.2f}x naive {'PASS' if ok else 'FAIL'}")
            if subject.rest and warm_ratio is not None:
                ok = warm_ratio <= TARGET_WARM_RATIO
                marks.append(f"warm<={TARGET_WARM_RATIO}x hello {'PASS' if ok else 'FAIL'}")
        elif subject.kind == "extra":
            marks.append("(extra case, no target)")
        elif subject.kind == "against":
            marks.append(f"(--against {label})")
        if warm_change is not None and subject.kind != "baseline":
            ok = warm_change <= TARGET_WARM_REGRESSION
            marks.append(f"warm<={TARGET_WARM_REGRESSION:.2f}x {label} {'PASS' if ok else 'FAIL'}")
        print(
            f"{subject.name:<{width}} {fmt(init, '8.1f')} {fmt(first, '9.1f')} "
            f"{fmt(None if init_share is None else 100 * init_share, '7.0f')} "
            f"{fmt(subject.median('first_call_ms'), '8.1f')} {fmt(subject.median('first_aws_ms'), '7.1f')} "
            f"{fmt(first_ratio, '8.2f')} {fmt(subject.median('process_first_ms'), '8.1f')} "
            f"{fmt(warm, '12.0f')} {fmt(warm_ratio, '8.2f')} {fmt(own, '11.0f')} {fmt(own_ratio, '8.2f')} "
            f"{fmt(warm_change, '9.2f')}  {'; '.join(marks)}"
        )
        results[subject.name] = {
            "kind": subject.kind,
            "rest": subject.rest,
            "median": {metric: subject.median(metric) for metric in subject.samples},
            "first_ratio_to_naive": first_ratio,
            "warm_ratio_to_hello": warm_ratio,
            "own_ratio_to_hello": own_ratio,
            "init_share_of_first": init_share,
            "warm_ratio_to_against": warm_change,
            "targets": marks,
            "samples": subject.samples,
        }
    restored = [subject for subject in subjects if subject.samples.get("restored_call_ms")]
    if restored:
        print("\nSnapStart, simulated (--snapstart): the first call of a process whose init ran the before-snapshot "
              "hooks, then the after-restore hooks; Lambda's restore itself is not modelled")  # fmt: skip
        for subject in restored:
            after, on_demand, first = (subject.median(m) for m in ("restored_call_ms", "first_call_ms", "first_ms"))
            results[subject.name]["restored_call_ms"] = after
            print(f"  {subject.name:<{width}} first call {fmt(after, '6.1f')} ms restored, {fmt(on_demand, '6.1f')} ms "
                  f"on demand; the on-demand first response was {fmt(first, '6.1f')} ms")  # fmt: skip
    hello, naive = by_name["baseline/hello"], by_name["baseline/naive"]
    peer = by_name.get("baseline/naive-trades")
    if peer is not None and peer.median("warm_p50_us"):
        print()
        for name, target in (("trades/list-100-miss", TARGET_MISS_RATIO), ("trades/list-100-hit", TARGET_HIT_RATIO)):
            if name not in by_name:  # left out by --only
                continue
            for metric, what in (("warm_p50_us", "warm p50"), ("own_p50_us", "own p50 (less moto round trips)")):
                ours, theirs = by_name[name].median(metric), peer.median(metric)
                if ours is None or not theirs:
                    continue
                ratio = ours / theirs
                results[name][f"{metric}_ratio_to_peer"] = ratio
                verdict = "PASS" if ratio <= target else "FAIL"
                print(f"{name}: {what} {ours:.0f} us = {ratio:.2f}x the naive peer's {theirs:.0f} us "
                      f"(GET /trades?limit=100 on 500 trades; target <= {target}x) {verdict}")  # fmt: skip
    print()
    print(
        f"Baselines (medians of {args.runs} runs): `python -c pass` {statistics.median(pass_ms):.1f} ms "
        f"whole process; hello-world init {fmt(hello.median('init_ms'), '.1f')} ms, first response "
        f"{fmt(hello.median('first_ms'), '.1f')} ms, warm p50 {fmt(hello.median('warm_p50_us'), '.0f')} us; "
        f"naive init {fmt(naive.median('init_ms'), '.1f')} ms, first response "
        f"{fmt(naive.median('first_ms'), '.1f')} ms, warm p50 {fmt(naive.median('warm_p50_us'), '.0f')} us."
    )
    print(
        f"REST first-response target: max({TARGET_FIRST_RATIO}, hello-world floor {floor:.2f} + "
        f"{TARGET_ABOVE_FLOOR}) = {rest_target:.2f}x naive; WebSocket and event functions "
        f"{TARGET_FIRST_RATIO_NOT_REST}x."
    )
    print(
        "init = importing the handler module; first = init + first invocation (both timed inside the "
        "process); init % = init / first: the part of the first response that SnapStart replaces with a restore "
        "(the interpreter's start, in proc, too); call = the first invocation alone, of which AWS = waiting on "
        "AWS (moto) round trips;\nproc = from spawning the process to the first response "
        "(compare with `python -c pass`); "
        f"warm p50 over {args.warm} invocations after the first;\nown = warm minus the time spent waiting on "
        "AWS (moto) round trips, through our SigV4 clients or botocore's endpoint, per invocation; x against = warm "
        "p50 / the --against tree's same row, measured in the same rounds."
    )
    measured = python_version(runtime.python)
    deployed = sorted({subject.lambda_runtime for subject in subjects if subject.lambda_runtime})
    print(f"Interpreter: Python {measured.split()[0]} ({runtime.python}); template runtime: {', '.join(deployed)}.")
    return {
        "python": measured,
        "interpreter": runtime.python,
        "template_runtimes": deployed,
        "cpu": runtime.cpu,
        "runs": args.runs,
        "warm": args.warm,
        "python_c_pass_ms": {"median": statistics.median(pass_ms), "samples": pass_ms},
        "subjects": results,
    }


# --- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per subject (>= 7)")
    parser.add_argument("--warm", type=int, default=200, help="warm invocations after the first")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--against", metavar="REV|TEMPLATE",
                        help="also measure another tree in the same rounds (a git revision, e.g. main, or a "
                        "template.yaml), and each row's warm p50 against its")  # fmt: skip
    parser.add_argument("--importtime", type=int, default=0, metavar="N", help="print each subject's N slowest imports")
    parser.add_argument("--requests", action="store_true", help="print each subject's first-call AWS round trips")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile each first call: N rows")
    parser.add_argument("--only", type=re.compile, metavar="REGEX",
                        help="only the rows it matches (--against's too), and the baselines")  # fmt: skip
    parser.add_argument("--snapstart", action="store_true",
                        help="also each function's first call after a simulated SnapStart restore")  # fmt: skip
    parser.add_argument("--python", default=base_python(), help="interpreter to measure (default: the venv's base)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-round order shuffle")
    parser.add_argument("--cpu", type=int, help="pin measured processes to this CPU (default: the last; -1: no)")
    parser.add_argument("--bytecode", choices=["compiled", "none"], default="compiled",
                        help="compiled: as `python -m deploy` ships the code (default); none: as plain `sam build` "
                        "does, without bytecode")  # fmt: skip
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be at least 7")

    bytecode = args.bytecode == "compiled"
    trees = [load_tree(args.template.resolve(), "", args.python, bytecode)]
    if args.against:
        trees.append(load_tree(*against_template(args.against), args.python, bytecode))
    baselines = staged(BENCH / "baselines", "baselines", args.python, bytecode)

    # Measured processes get one CPU of their own (Lambda gives a function at most one vCPU's worth
    # below 1769 MB); this process and moto keep the others.
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []  # Linux only
    cpu = (cpus[-1] if cpus else None) if args.cpu is None else (None if args.cpu < 0 else args.cpu)
    if cpu is not None and len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus) - {cpu})

    # moto as the local stack and the tests run it (devstack.emulation): a plain one deep-copies every table a
    # transaction names, so an event function's first TransactWriteItems measured moto (300 ms on the seeded data).
    server = moto_server.start_here("127.0.0.1", 0)  # port 0: a free one
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per moto request
    host, port = server.get_host_and_port()
    endpoint, session_token = f"http://{host}:{port}", secrets.token_urlsafe(24)
    os.environ.update(aws_env(endpoint, session_token))  # for the setup done in this process
    # The WebSocket management API (replies of ws_message), likewise outside the measured process.
    management = ManagementApiStandIn()
    xray_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    xray_sink.bind(("127.0.0.1", 0))
    try:
        xray_daemon = f"127.0.0.1:{xray_sink.getsockname()[1]}"
        runtime = Runtime(args.python, runtime_packages(), endpoint, session_token, xray_daemon, cpu)
        subjects, auth_table, skipped = setup(runtime, trees, baselines, management.url)
        if args.only:
            subjects = [s for s in subjects if s.kind == "baseline" or args.only.search(s.row)]
        mint = seed_and_minter(subjects, auth_table)
        seed_connections(subjects)
        seed_channel_logs(subjects)
        seed_data(subjects)
        run_all(runtime, subjects, mint, args, skipped, SeededState())
    finally:
        xray_sink.close()
        management.stop()
        server.stop()


def provision(template: dict[str, Any], parameters: dict[str, str]) -> tuple[dict[str, str], str]:
    """The template's tables and a JWT signing secret in moto, plus the naive baseline's table; returns the
    local names of the template's resources (tables, queues, topics, buses, secrets: by logical id) and the
    secret's ARN."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    resources = create_tables(dynamodb, template)  # table: logical id -> name (the logical id)
    # Queues, topics and buses, as the local stack creates them (the event-driven functions publish to them).
    resources.update(provision_messaging(template, os.environ["AWS_ENDPOINT_URL"], region=REGION, values=parameters))
    naive = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}  # fmt: skip
    dynamodb.create_table(**table_definition({"Properties": naive}, NAIVE_TABLE))
    dynamodb.put_item(
        TableName=NAIVE_TABLE,
        Item={"pk": {"S": "item-1"}, "name": {"S": "AAPL"}, "price": {"N": "189.84"}, "qty": {"N": "100"}},
    )
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="alphapulse/bench/jwt-signing-key", SecretString=secrets.token_urlsafe(48)
    )["ARN"]
    for logical_id in resources_of_type(template, "AWS::SecretsManager::Secret"):
        resources[logical_id] = secret_arn
    return resources, secret_arn


def setup(
    runtime: Runtime, trees: list[Tree], baselines: Path, management_url: str
) -> tuple[list[Subject], str | None, list[str]]:
    """Tables and secret in moto, from the first tree's template (an --against tree's functions use them too);
    the subjects to measure (the baselines' code in `baselines`), with their environments and events."""
    ours = trees[0]
    resources, secret_arn = provision(ours.template, ours.parameters)
    subjects: list[Subject] = []
    auth_table: str | None = None
    skipped: list[str] = []  # listed as NOT MEASURED
    for tree in trees:
        resolver = LocalResolver(tree.template, {**tree.parameters, **resources})
        found, left_out = deployments(tree.template, tree.code_root, resolver)
        skipped += [f"{what}{tree.suffix}" for what in left_out]
        tree_subjects, tree_skipped = function_subjects(runtime, tree, found, secret_arn, management_url)
        subjects += tree_subjects
        skipped += tree_skipped
        auth_table = auth_table or next((s.env["AUTH_TABLE"] for s in tree_subjects if "AUTH_TABLE" in s.env), None)
    stage = stage_of(ours.template)
    for baseline, event in (
        ("hello", baseline_event(stage, "/hello", "/hello", None)),
        ("naive", baseline_event(stage, "/items/item-1", "/items/{item_id}", {"item_id": "item-1"})),
    ):
        env = {**runtime.env(f"bench-{baseline}", 128, baselines, ours.layer), "NAIVE_TABLE": NAIVE_TABLE}
        subjects.append(Subject(f"baseline/{baseline}", "baseline", baseline, "handler", env, json.dumps(event)))
    subjects.extend(trades_peers(runtime, subjects, trees, baselines, stage))
    return subjects, auth_table, skipped


def function_subjects(
    runtime: Runtime, tree: Tree, found: list[Deployment], secret_arn: str, management_url: str
) -> tuple[list[Subject], list[str]]:
    """A tree's rows: each function's cases, with the function's environment; and the functions left without."""
    # Rows are named after the code dir (events/<dir>-*.json), or the logical id when functions share one.
    dirs = collections.Counter(deployment.code_dir.name for deployment in found)
    subjects: list[Subject] = []
    skipped: list[str] = []
    for deployment in found:
        function, code_dir = deployment.function, deployment.code_dir
        env = runtime.env(function.logical_id, deployment.memory, code_dir, tree.layer)
        env.update(function.environment)
        # Deployed configuration: the signing key comes from Secrets Manager, as in AWS.
        env.pop("JWT_SECRET", None)
        env.update(
            APP_ENV="dev",
            # The events come from the deployed dashboard's origin, which a deployment allows.
            CORS_ORIGINS=DASHBOARD_ORIGIN,
            JWT_SECRET_ARN=secret_arn,
            **aws_env(runtime.endpoint, runtime.session_token),
        )
        if "WEBSOCKET_ENDPOINT" in env:
            env["WEBSOCKET_ENDPOINT"] = management_url
        cases = event_files(code_dir.name, function)
        if not cases:
            prefix = EVENT_PREFIXES.get(code_dir.name, code_dir.name)
            skipped.append(f"{function.logical_id}{tree.suffix} (no events/{prefix}-*.json for its routes)")
        prefix = code_dir.name if dirs[code_dir.name] == 1 else function.logical_id
        for index, (case, path) in enumerate(cases):
            subjects.append(
                Subject(
                    name=f"{prefix}/{case}{tree.suffix}",
                    kind="against" if tree.label else "function" if index == 0 else "extra",
                    module=deployment.module,
                    attribute=deployment.attribute,
                    env=env,
                    event_text=path.read_text(),
                    rest=deployment.rest,
                    first_target=TARGET_FIRST_RATIO if deployment.rest else TARGET_FIRST_RATIO_NOT_REST,
                    tracing=deployment.tracing,
                    lambda_runtime=deployment.runtime,
                    tree=tree.label,
                )
            )
    return subjects, skipped


def trades_peers(
    runtime: Runtime, subjects: list[Subject], trees: list[Tree], baselines: Path, stage: str
) -> list[Subject]:
    """GET /trades?limit=100 three ways: each tree's on a cache miss and on a hit, and the naive same-route peer
    (bench/baselines/naive_trades.py), all on the same 500 trades."""
    by_name = {subject.name: subject for subject in subjects}
    found: list[Subject] = []
    for tree in trees:
        ours = by_name.get(f"trades/list{tree.suffix}")
        if ours is None:
            continue
        event = json.loads(ours.event_text)
        event["queryStringParameters"] = {"limit": "100"}
        event["multiValueQueryStringParameters"] = {"limit": ["100"]}
        kind = "against" if tree.label else "peer"
        found += [
            Subject(f"trades/list-100-miss{tree.suffix}", kind, ours.module, ours.attribute, ours.env,
                    json.dumps(event), first_target=None, lambda_runtime=ours.lambda_runtime, miss=True,
                    tree=tree.label),
            Subject(f"trades/list-100-hit{tree.suffix}", kind, ours.module, ours.attribute, ours.env,
                    json.dumps(event), first_target=None, lambda_runtime=ours.lambda_runtime, tree=tree.label),
        ]  # fmt: skip
    if not found:
        return []
    peer = baseline_event(stage, "/trades", "/trades", None)
    peer["queryStringParameters"], peer["multiValueQueryStringParameters"] = {"limit": "100"}, {"limit": ["100"]}
    env = runtime.env("bench-naive-trades", 1024, baselines, trees[0].layer)
    env["DATA_TABLE"] = found[0].env["DATA_TABLE"]
    return [*found, Subject("baseline/naive-trades", "baseline", "naive_trades", "handler", env, json.dumps(peer))]


def seed_and_minter(subjects: list[Subject], auth_table: str | None) -> Callable[[], str]:
    """Create the users of the login events; return a function that mints a fresh access token.

    Runs the layer in this process with a function's settings (same secret ARN, issuer, audience): the key
    comes from Secrets Manager here too.
    """
    users = {c["username"]: c for s in subjects if (c := credentials_in(json.loads(s.event_text)))}
    needing = [s for s in subjects if TOKEN_PLACEHOLDER in s.event_text]
    if not needing:
        return lambda: ""
    os.environ.pop("JWT_SECRET", None)
    settings = ("APP_ENV", "JWT_", "AUTH_", "AWS_SESSION_TOKEN")
    os.environ.update({k: v for k, v in needing[0].env.items() if k.startswith(settings)})
    from alphapulse.auth.logic.accounts import create_user
    from alphapulse.auth.logic.tokens import issue_token
    from alphapulse.auth.models import ROLES
    from alphapulse.auth.wiring import stores_of

    if auth_table:
        for credentials in users.values():
            role = credentials["username"] if credentials["username"] in ROLES else "viewer"
            create_user(stores_of(auth_table), tenant_id=DEMO_TENANT, role=role, **credentials)

    def mint() -> str:
        session_id = os.urandom(16).hex()
        token, _ = issue_token(
            typ="access", username=TOKEN_USERNAME, tenant_id=DEMO_TENANT, role=TOKEN_ROLE, session_id=session_id
        )
        return token

    return mint


def seed_data(subjects: list[Subject]) -> None:
    """The demo tenant's data, so that every REST row reads realistic tables: the demo data of `make run`
    (trades of a week, a month of portfolio snapshots, a day of metrics, alerts, the system status),
    300 more trades, 500 in all, which the trades peers read, and the default alert rules."""
    table = next((s.env["DATA_TABLE"] for s in subjects if s.kind == "function" and "DATA_TABLE" in s.env), None)
    if table is None:
        return
    from datetime import UTC, datetime

    from alphapulse.alerts.logic.rules import ensure_default_rules
    from alphapulse.alerts.repositories.rules import RuleRepository
    from devstack.demo import data as demo_data

    now = datetime.now(UTC)
    demo_data.seed(table, DEMO_TENANT, now=now)
    demo_data.add_trades(table, DEMO_TENANT, 300, now=now)
    # A tenant gets its default rules at its first rules read, once: the rules function's cold start is measured
    # for a tenant that has them, as every tenant but a brand-new one does.
    ensure_default_rules(RuleRepository(table), DEMO_TENANT)


def seed_connections(subjects: list[Subject]) -> None:
    """The open connection that the WebSocket message events come from (an admin's, so every channel is
    allowed), as $connect would have stored it. Runs the layer in this process, like seed_and_minter."""
    from alphapulse.auth.models import ROLE_PERMISSIONS
    from alphapulse.realtime.models import Connection
    from alphapulse.realtime.repositories.connections import ConnectionRepository

    now = int(time.time())
    for subject in subjects:
        request = json.loads(subject.event_text).get("requestContext") or {}
        table = subject.env.get("CONNECTIONS_TABLE")
        if request.get("eventType") == "MESSAGE" and table:
            permissions = frozenset(ROLE_PERMISSIONS[TOKEN_ROLE])
            ConnectionRepository(table).put(Connection(request["connectionId"], DEMO_TENANT, TOKEN_USERNAME,
                                                       permissions, now + 7200, now, now + 7200))  # fmt: skip


def seed_channel_logs(subjects: list[Subject]) -> None:
    """The pushes that the fan-out events' shards name, in their channels' replay logs as the publisher logged
    them, so that a shard is delivered (not the resync of pushes no longer logged). Runs the layer in this
    process, like seed_and_minter."""
    from datetime import UTC, datetime

    from alphapulse.realtime.logic.shards import Shard
    from alphapulse.realtime.models import LogEntry
    from alphapulse.realtime.protocol import EVENT_CHANNELS, encode, push
    from alphapulse.realtime.repositories.channels import ChannelRepository

    now = int(time.time())
    logged: dict[tuple[str, str, str], int] = {}  # (table, tenant, channel): the last seq to log
    for subject in subjects:
        table = subject.env.get("CONNECTIONS_TABLE")
        if not table:
            continue
        for record in json.loads(subject.event_text).get("Records") or []:
            try:
                shard = Shard.parse(record.get("body") or "")
            except ValueError:
                continue  # not a fan-out shard
            key = (str(table), shard.tenant_id, shard.channel)
            logged[key] = max(logged.get(key, 0), shard.last)
    at = datetime.fromtimestamp(now, UTC)
    for (table, tenant_id, channel), last in logged.items():  # once per channel, whichever trees name it
        kind = next(kind for kind, of in EVENT_CHANNELS.items() if of == channel)
        entries = [LogEntry(seq, encode(push(kind, channel, seq, at, {"n": seq}))) for seq in range(1, last + 1)]
        ChannelRepository(table).append(tenant_id, channel, entries, expires_at=now + 86_400)


class ManagementApiStandIn:
    """Answers every `@connections` call with 200, as API Gateway's management API does for an open connection."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_DELETE = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SeededState:
    """moto as seeded (every table's items, every queue empty), put back after each measured process, so that
    every process starts from the same state. Otherwise what each one leaves (sessions, subscriptions, cache
    entries, an event already ingested, pushes queued that nothing receives here) stays, and moto, whose index
    queries read the whole table and whose FIFO sends look through the whole queue, gets slower round after
    round: the rows measured last would pay for what the rows measured first left."""

    def __init__(self) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        self.tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables
        self.seeded = {name: copy.deepcopy(dict(table.items)) for name, table in self.tables.items()}
        self.queues = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]

    def restore(self) -> None:
        for name, table in self.tables.items():
            table.items = collections.defaultdict(dict, copy.deepcopy(self.seeded.get(name, {})))
        for queue in list(self.queues.queues.values()):
            queue.last_purged_at = None  # AWS allows one purge a minute (moto too); this is no client's purge
            self.queues.purge_queue(queue.name)


def run_all(
    runtime: Runtime,
    subjects: list[Subject],
    mint: Callable[[], str],
    args: argparse.Namespace,
    skipped: list[str],
    state: SeededState,
) -> None:
    pass_env = next(subject.env for subject in subjects if subject.name == "baseline/hello")
    print(f"warm-up round ({len(subjects)} subjects, not counted) ...", file=sys.stderr)
    for subject in subjects:
        run_child(runtime, subject, mint(), warm=3)
        state.restore()
    measure_pass(runtime, pass_env)

    shuffle = random.Random(args.seed)
    pass_ms: list[float] = []
    for round_number in range(1, args.runs + 1):
        print(f"round {round_number}/{args.runs} ...", file=sys.stderr)
        # (subject, restored) and None: `python -c pass`; with --snapstart each function a second time, restored
        order: list[tuple[Subject, bool] | None] = [(subject, False) for subject in subjects] + [None]
        if args.snapstart:
            order += [(subject, True) for subject in subjects if subject.kind == "function"]
        shuffle.shuffle(order)
        for entry in order:
            if entry is None:
                pass_ms.append(measure_pass(runtime, pass_env))
            elif entry[1]:
                result = run_child(runtime, entry[0], mint(), warm=0, restore=True)
                entry[0].samples.setdefault("restored_call_ms", []).append(result["first_call_ns"] / 1e6)
                state.restore()
            else:
                record(entry[0], run_child(runtime, entry[0], mint(), warm=args.warm))
                state.restore()

    results = report(runtime, subjects, pass_ms, args)
    results["not_measured"] = skipped
    if skipped:
        print("NOT MEASURED: " + "; ".join(skipped))
    if args.importtime:
        for subject in subjects:
            print(f"\n{subject.name}: slowest imports, first call included (cumulative us, self us, module)")
            stderr = run_child(runtime, subject, mint(), warm=0, importtime=True)["stderr"]
            state.restore()
            slowest, packages = top_imports(stderr, args.importtime)
            for cumulative, self_us, module in slowest:
                print(f"  {cumulative:>8} {self_us:>8}  {module}")
            print("  by top-level package (self us summed): " + ", ".join(f"{n} {us}" for us, n in packages))
    if args.requests:
        for subject in subjects:
            result = run_child(runtime, subject, mint(), warm=0, requests=True)
            state.restore()
            print(f"\n{subject.name}: first call {result['first_call_ns'] / 1e6:.1f} ms, its AWS round trips (ms)")
            for what, ms in result["first_requests"]:
                print(f"  {ms:>8.2f}  {what}")
    if args.profile:
        for subject in subjects:
            stderr = run_child(runtime, subject, mint(), warm=0, profile=args.profile)["stderr"]
            state.restore()
            print(f"\n{subject.name}: the first call under cProfile\n{stderr[stderr.find('   Ordered by') :]}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

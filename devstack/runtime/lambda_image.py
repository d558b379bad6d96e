"""A stand-in for the Lambda Python base image, for machines that cannot pull `public.ecr.aws/lambda/python`.

Real users get the official image: `sam local invoke` pulls it. Our CI reaches no container registry, so
this builds an image of the same tag from Debian's packages: a Debian rootfs (debootstrap) with the
runtime's CPython, `awslambdaric` in /var/runtime and the base image's entrypoint and environment. SAM
then adds its own emulator (/var/rapid/aws-lambda-rie) on top, as it does to the official image.

    python -m devstack lambda-image --runtime python3.13 --architecture x86_64
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The Debian release whose python3 is each runtime's version.
DEBIAN_RELEASES = {"python3.11": "bookworm", "python3.13": "trixie"}
AWSLAMBDARIC = "awslambdaric==4.2.2"
MIRROR = "http://deb.debian.org/debian"

# The base image's entrypoint, as published with public.ecr.aws/lambda/python.
ENTRYPOINT = """#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
"""
# What the emulator starts: the runtime interface client on the handler it was given.
BOOTSTRAP = """#!/bin/sh
exec /usr/bin/python3 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
"""
ENVIRONMENT = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    # As the Python runtime's bootstrap sets it: the function, then its layers, then the runtime.
    "PYTHONPATH": "/var/task:/opt/python:/var/runtime",
}
MACHINES = {"x86_64": ("x86_64", "amd64", "manylinux2014_x86_64"),
            "arm64": ("aarch64", "arm64", "manylinux2014_aarch64")}  # fmt: skip


def tag(runtime: str, architecture: str) -> str:
    """The tag `sam local invoke` asks for, e.g. public.ecr.aws/lambda/python:3.13-x86_64."""
    return f"public.ecr.aws/lambda/python:{runtime.removeprefix('python')}-{architecture}"


def host_architecture() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def build(runtime: str, architecture: str) -> str:
    """Build the stand-in (a few minutes, most of it debootstrap); returns its tag."""
    if runtime not in DEBIAN_RELEASES:
        raise SystemExit(f"no stand-in recipe for {runtime}; known: {', '.join(DEBIAN_RELEASES)}")
    machine, debian_arch, wheel_platform = MACHINES[architecture]
    if machine != platform.machine():
        raise SystemExit(f"build the {architecture} stand-in on a {machine} host, not on {platform.machine()}")
    for tool in ("debootstrap", "docker"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install {tool}; docker: docker.io)")
    with tempfile.TemporaryDirectory(prefix="lambda-image-") as work:
        rootfs = Path(work, "rootfs")
        subprocess.run(["debootstrap", "--variant=minbase", f"--arch={debian_arch}",
                        "--include=python3,ca-certificates", DEBIAN_RELEASES[runtime], str(rootfs), MIRROR],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        version = runtime.removeprefix("python")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--only-binary=:all:", "--platform", wheel_platform, "--python-version", version,
                        "--target", str(rootfs / "var/runtime"), AWSLAMBDARIC], check=True)  # fmt: skip
        for path, text in (("lambda-entrypoint.sh", ENTRYPOINT), ("var/runtime/bootstrap", BOOTSTRAP)):
            (rootfs / path).write_text(text)
            (rootfs / path).chmod(0o755)
        (rootfs / "var/task").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        changes = [f"ENV {name}={value}" for name, value in ENVIRONMENT.items()]
        changes += ["WORKDIR /var/task", 'ENTRYPOINT ["/lambda-entrypoint.sh"]']
        archive = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        command = ["docker", "import", *(part for change in changes for part in ("--change", change)), "-",
                   tag(runtime, architecture)]  # fmt: skip
        subprocess.run(command, stdin=archive.stdout, check=True, stdout=subprocess.DEVNULL)
        if archive.wait() != 0:
            raise SystemExit("tar of the rootfs failed")
    return tag(runtime, architecture)


def main(runtime: str, architecture: str, *, force: bool = False) -> int:
    image = tag(runtime, architecture)
    if exists(image) and not force:
        print(f"{image} is present")
        return 0
    print(f"building the stand-in {image} (debootstrap, then docker import) ...", file=sys.stderr)
    print(build(runtime, architecture))
    return 0

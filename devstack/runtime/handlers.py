"""Loading function handlers from their CodeUri, each under its own module name.

Every function's module is called `app`; loading them by file path under distinct names keeps
them from shadowing each other in one process.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.template.load import ROOT

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@cache
def load_module(code_uri: str, module_name: str = "app") -> ModuleType:
    """Import `<code_uri>/<module_name>.py` once, under a module name of its own."""
    path = ROOT / code_uri / f"{module_name}.py"
    unique = f"_fn_{Path(code_uri).name}_{module_name}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


def load_handler(code_uri: str, handler: str = "app.handler") -> Handler:
    """The handler of a function (`<module>.<attribute>`), its module imported once."""
    module_name, _, attribute = handler.rpartition(".")
    result: Handler = getattr(load_module(code_uri, module_name), attribute)
    return result


class LambdaContext:
    """The attributes of the Lambda context object that our code and Powertools read."""

    def __init__(self, function_name: str = "local", memory_mb: int = 1024, *, timeout: float = 30.0) -> None:
        import time
        import uuid

        self._deadline = time.monotonic() + timeout

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        """What is left of the invocation's `timeout`, counting from when the context was made (its start)."""
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))

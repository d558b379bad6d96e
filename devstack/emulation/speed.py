"""Take the waste out of moto's server, which serves every AWS call of the local stack from one process.

Profiled under load (`py-spy` on `make run` while `bench/realtime.py` ran), the process spent most of its
time not in the services but around them; each patch keeps the answers exactly as they were:
- SQS read the clock through two datetimes for every message of every call (`unix_time`): read directly;
- EventBridge built a JSONPath parser (yacc tables) for every path of every event sent to a target: the
  parsed paths are kept;
- every request listed moto's package directory to find its service: the listing is kept.
"""

from __future__ import annotations

import functools
import time
from typing import Any

_patched = False


def make_moto_fast() -> None:
    """Patch moto in this process (idempotent)."""
    global _patched
    if _patched:
        return
    import jsonpath_ng.ext
    from moto import backends
    from moto.sqs import models

    slow_unix_time = models.unix_time

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow_unix_time(dt)

    models.unix_time = unix_time
    models.unix_time_millis = lambda dt=None: unix_time(dt) * 1000.0
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)
    modules = list(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    _patched = True

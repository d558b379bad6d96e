"""Lambda SnapStart: what a function renews when it resumes from a snapshot.

With SnapStart (template parameter `SnapStart`), Lambda runs init once per published version, snapshots the
memory, and resumes many copies of it, possibly days later. So nothing taken at init can be trusted after a
restore, and each module that holds such state registers its own renewal here:

- pooled connections are dropped (`alphapulse.aws.sigv4`, `alphapulse.aws.sdk`): their peers are long gone;
- the `random` module is re-seeded (below): every copy would otherwise draw the same jitter;
- cached credentials and secrets are forgotten (`alphapulse.aws.sigv4`, `alphapulse.core.config`): they may have
  expired or been rotated while the snapshot waited;
- deadlines on the monotonic clock are reset (`alphapulse.core.config`): a resumed copy's clock is another one.

And before the snapshot is taken, what a function defers to its first request is done, so that no restored copy
does it in a request: the models' validators are built (`alphapulse.core.inputs`).

The hooks run through `snapshot_restore_py`, which Lambda's managed Python runtimes include (the tests install it
and run the hooks as the runtime does). Where it is missing, no snapshot is ever restored, so nothing is
registered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

Hook = TypeVar("Hook", bound=Callable[[], Any])

try:
    import snapshot_restore_py  # type: ignore[import-untyped]

    _register_after, _register_before = (
        snapshot_restore_py.register_after_restore,
        snapshot_restore_py.register_before_snapshot,
    )
except ImportError:  # not in a Lambda managed runtime: nothing is ever snapshotted or restored
    _register_after = _register_before = None


def after_restore(hook: Hook) -> Hook:
    """Run `hook` (no arguments) when the function resumes from a snapshot, in the order of registration."""
    if _register_after is not None:
        _register_after(hook)
    return hook


def before_snapshot(hook: Hook) -> Hook:
    """Run `hook` (no arguments) after init, before Lambda takes the snapshot, in the order of registration."""
    if _register_before is not None:
        _register_before(hook)
    return hook


after_restore(random.seed)  # from the system's entropy, as at interpreter start

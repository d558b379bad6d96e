"""A function's init: no garbage collection while it runs, and what it made is frozen after.

What a function makes at init (modules, classes, its app and clients) lives as long as its process, so the
collector's passes during init find nothing to free: they took 13 ms of a REST function's init and 7 ms of
an event function's, and each later full pass would scan it all again (docs/decisions.md, issue #15).

Importing this module stops the collector, so a handler module imports it before anything else; `done()`, at
the end of the handler module, moves what init made into the permanent generation (`gc.freeze`) and restarts
the collector. Only the first import stops it: a process that imports a second handler (tests) collects as
usual.
"""

from __future__ import annotations

import gc


def done() -> None:
    """The function's init is over: freeze what it made, and collect garbage again."""
    gc.freeze()
    gc.enable()


gc.disable()

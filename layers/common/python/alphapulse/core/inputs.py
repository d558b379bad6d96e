"""Untrusted JSON: bounded nesting, checked before anything recurses into it; and `Model`, the base of our pydantic
models, which build their validators at first use (and pydantic's plugin loader, imported lean).

Python's json module, pydantic and json.dumps all recurse, so a document nested a few thousand levels
deep raises RecursionError (a 500, a crashed frame handler) instead of a clear refusal. No input of
ours is nested deeper than a handful of levels; MAX_DEPTH leaves ample room.
"""

from __future__ import annotations

import json
import sys
import types
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alphapulse.aws.snapstart import before_snapshot

MAX_DEPTH = 64
MAX_LABELS = 64


def import_plugin_loader() -> None:
    """Import pydantic's plugin loader without `importlib.metadata` (nothing if either is imported already).

    The loader imports it for `entry_points`, which it calls only when plugins are enabled; ours are disabled
    (PYDANTIC_DISABLE_PLUGINS), so the import was 8-9 ms of an event function's first call (docs/decisions.md,
    issue #15). Here `entry_points` imports `importlib.metadata` when called, so enabled plugins still load.
    """
    if "pydantic.plugin._loader" in sys.modules or "importlib.metadata" in sys.modules:
        return

    def entry_points(**params: Any) -> Any:
        from importlib import metadata

        return metadata.entry_points(**params)

    placeholder = types.ModuleType("importlib.metadata")
    placeholder.entry_points = entry_points  # type: ignore[attr-defined]
    sys.modules["importlib.metadata"] = placeholder
    try:
        import pydantic.plugin._loader  # noqa: F401
    finally:
        del sys.modules["importlib.metadata"]


import_plugin_loader()


class TooDeepError(ValueError):
    """The document is nested deeper than MAX_DEPTH."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")


def text_depth_exceeds(text: str | bytes, max_depth: int = MAX_DEPTH) -> bool:
    """True when the JSON text opens more than `max_depth` arrays or objects inside each other (brackets
    inside strings do not count). Text with fewer brackets in all is not scanned at all."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if raw.count("[") + raw.count("{") <= max_depth:
        return False
    depth, in_string, escaped = 0, False, False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing (TooDeepError, a ValueError) a document nested deeper than `max_depth`."""
    if text_depth_exceeds(text, max_depth):
        raise TooDeepError(max_depth)
    return json.loads(text)


def check_depth(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """TooDeepError when an already parsed document (a Lambda event) nests deeper than `max_depth`;
    walked without recursion."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth + 1 > max_depth:
            raise TooDeepError(max_depth)
        pending.extend((child, depth + 1) for child in children)


def _utf8(text: str) -> str:
    # A JSON body may carry lone surrogates ("\ud800"): valid for Python, not storable as UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode") from exc
    return text


Text = Annotated[str, AfterValidator(_utf8)]
LabelKey = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_utf8)]
LabelValue = Annotated[str, Field(max_length=1024), AfterValidator(_utf8)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS)]
"""The labels of a metric report or an alert."""


class Model(BaseModel):
    """The base of our models: each builds its validator and serializer at first use, not at import.

    A function imports many more models than its first request uses (the event functions import every domain's),
    and pydantic spends about 0.5 ms building each class: deferring took 30 ms off the event functions' init
    (docs/decisions.md, issue #15). Behaviour is unchanged, but a model whose schema cannot be built would fail at
    its first use instead of at import: tests/unit/core/test_model.py builds every one.
    """

    model_config = ConfigDict(defer_build=True)


def imported_models() -> list[type[Model]]:
    """Every subclass of Model imported so far (parametrized generics included)."""
    found, pending = [], list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


@before_snapshot
def build_imported_models() -> None:
    """Build every imported model not built yet. Under SnapStart this runs before the snapshot, so that no restored
    copy builds a validator in a request; on demand, deferring the build is what keeps init short."""
    for model in imported_models():
        if not model.__pydantic_complete__:
            model.model_rebuild()

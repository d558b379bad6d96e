"""Events in (DESIGN section 6) have a module per source: `trading` (the trading engine's EventBridge events)
and `alerts` (the messages of the SNS alerts topic), so that each function imports only its own source's models.

Here, what both share: InvalidEventError, whose reason is safe to log (it names fields, never their values),
and the checks every event passes before and after validation.

The envelopes are our own minimal models rather than Powertools' `EventBridgeModel`/`SnsModel`:
those require fields (signatures, unsubscribe URLs, account, region) that nothing here reads, and
that a replayed or hand-made event may not carry.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from alphapulse.core import inputs
from alphapulse.core.times import to_utc, utcnow

MAX_EVENT_BYTES = 256 * 1024
"""EventBridge and SNS refuse larger entries; anything bigger did not come through them."""
MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of our clock an event's time may be. A later time is refused: stored as the newest
(an alert's dedup key, a rule's state, the latest portfolio or system status), it would make every
real event after it count as older, for good."""
_MAX_DIGITS = 38  # of a DynamoDB number
_SHOWN_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class InvalidEventError(ValueError):
    """An event that can never be applied. Lambda retries it (every error of an asynchronous invocation
    is retried) and then sends it, with this error's type and message, to the function's DLQ."""


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """The field names (and aliases) of `model` and of the models nested in its fields."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.update(filter(None, (name, field.alias)))
        pending: list[Any] = [field.annotation]
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= _field_names(annotation, seen)
            elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
                pending.extend(typing.get_args(annotation))
    return names


def _location(loc: tuple[int | str, ...], known: set[str]) -> str:
    # Dict keys (metric names, label keys) are input: shown only when they are a storable metric name
    # of at most 64 characters (what the API would show anyway), otherwise as `*`.
    return ".".join(
        str(part) if isinstance(part, int) or part in known or _SHOWN_KEY.fullmatch(part) else "*" for part in loc
    )


def reason(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """A validation failure as text that names the fields and the problems, never the input values
    (nor the keys of free-form objects such as `metrics` and `labels`)."""
    known = _field_names(model or BaseModel) | {"[key]"}
    problems = [f"{_location(error['loc'], known) or 'event'}: {error['msg']}" for error in exc.errors()]
    shown = "; ".join(problems[:10])
    return shown + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")


def check_event(event: Any) -> Mapping[str, Any]:
    """`event`, when it is a JSON object of a size that EventBridge and SNS carry, nested no deeper than we
    accept; InvalidEventError otherwise."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    try:
        inputs.check_depth(event)  # before json.dumps and pydantic recurse into it
    except inputs.TooDeepError as exc:
        raise InvalidEventError(f"event is {exc}") from None
    try:
        size = len(json.dumps(event, separators=(",", ":"), allow_nan=True).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidEventError("event is not JSON") from exc
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {size} bytes, above the {MAX_EVENT_BYTES} that EventBridge and SNS carry")
    return event


def _unstorable(value: Any) -> bool:
    """True for a number that DynamoDB cannot store (magnitude, precision) or that is not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return True
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return True
    if number.is_zero():
        return False
    digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))  # normalize() would round to 28
    return digits > _MAX_DIGITS or not Decimal("1e-130") <= abs(number) <= Decimal("1e125")


def check_storable(values: Any, context: str, path: str = "") -> None:
    """InvalidEventError (naming the field) for a number of a validated event that storage would refuse:
    otherwise the write fails as a storage error on every retry instead of saying why."""
    if isinstance(values, Mapping):
        for name, value in values.items():
            check_storable(value, context, f"{path}.{name}" if path else str(name))
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            check_storable(value, context, f"{path}.{index}")
    elif _unstorable(values):
        raise InvalidEventError(f"{context}: {path}: number cannot be stored (|value| from 1e-130 to 1e125, 38 digits)")


def latest_allowed(now: datetime | None) -> datetime:
    """The latest event time accepted at `now` (by default the current time)."""
    return (to_utc(now) if now is not None else utcnow()) + MAX_CLOCK_SKEW


def check_not_ahead(values: Any, context: str, latest: datetime, path: str = "") -> None:
    """InvalidEventError (naming the field) for a time of a validated event after `latest`."""
    if isinstance(values, Mapping):
        for name, value in values.items():
            check_not_ahead(value, context, latest, f"{path}.{name}" if path else str(name))
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            check_not_ahead(value, context, latest, f"{path}.{index}")
    elif isinstance(values, datetime) and values > latest:
        seconds = int(MAX_CLOCK_SKEW.total_seconds())
        raise InvalidEventError(f"{context}: {path}: time is more than {seconds} s in the future")

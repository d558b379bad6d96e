"""Opaque list cursors, bound to the tenant and the query that produced them.

A cursor is `base64url(json).signature`: the JSON holds DynamoDB's exclusive start key, and
the HMAC covers it together with the tenant and a fingerprint of the query's parameters.
A tampered cursor, or one replayed by another tenant or on another query, fails the check
and is answered 400, never another tenant's data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from alphapulse.core.config import signing_key
from alphapulse.core.errors import BadRequestError
from alphapulse.core.inputs import Model
from alphapulse.core.times import TimeRange, iso, parse_iso

MAX_CURSOR_LENGTH = 2048
T = TypeVar("T")


class Page(Model, Generic[T]):
    """A page of a list, newest first; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


def _cursor_key() -> bytes:
    return hmac.new(signing_key().encode(), b"alphapulse-list-cursor", hashlib.sha256).digest()


def _signature(payload: bytes, tenant_id: str, fingerprint: str) -> str:
    message = b"\x00".join([payload, tenant_id.encode(), fingerprint.encode()])
    digest = hmac.new(_cursor_key(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def fingerprint(**params: Any) -> str:
    """A stable description of a query's parameters (limit excluded by the caller)."""
    return json.dumps(params, sort_keys=True, default=str)


def encode_cursor(start_key: Mapping[str, Any], *, tenant_id: str, query: str) -> str:
    """The cursor that continues a list after `start_key` (a DynamoDB key in attribute-value form)."""
    payload = base64.urlsafe_b64encode(json.dumps(start_key, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_signature(payload.encode(), tenant_id, query)}"


def decode_cursor(cursor: str, *, tenant_id: str, query: str) -> dict[str, Any]:
    """The start key inside a cursor; BadRequestError when it is malformed or not for this tenant and query."""
    invalid = BadRequestError("Invalid cursor")
    # compare_digest raises TypeError on non-ASCII text.
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii() or cursor.count(".") != 1:
        raise invalid
    payload, signature = cursor.split(".")
    expected = _signature(payload.encode(), tenant_id, query)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise invalid
    try:
        start_key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError as exc:
        raise invalid from exc
    if not isinstance(start_key, dict):
        raise invalid
    return start_key


def window_page(
    fetch: Callable[[str, str, dict[str, Any] | None], tuple[list[T], dict[str, Any] | None]],
    *,
    tenant_id: str,
    query: str,
    requested: TimeRange,
    default_span: timedelta,
    cursor: str | None,
    now: datetime,
) -> tuple[list[T], str | None]:
    """One page of a list over a time window, newest first, and the cursor of the next page (None on the last).

    `fetch(start, end, start_key)` reads the page (fixed-width ISO bounds). The window is the requested one,
    else the `default_span` ending now; a cursor carries its first page's window, so "now" does not move
    under a paging client, and it is bound to the tenant and to `query` (the filters): anything else, or a
    cursor not of the shape we write, is a 400.
    """
    if cursor is not None:
        state = decode_cursor(cursor, tenant_id=tenant_id, query=query)
        start, end, start_key = _window_of(state)
    else:
        first, last = requested.resolve(default_span=default_span, now=now)
        start, end, start_key = iso(first), iso(last), None
    items, last_key = fetch(start, end, start_key)
    if last_key is None:
        return items, None
    return items, encode_cursor({"key": last_key, "start": start, "end": end}, tenant_id=tenant_id, query=query)


def _window_of(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    start, end, key = state.get("start"), state.get("end"), state.get("key")
    if not (isinstance(start, str) and isinstance(end, str) and _is_string_key(key) and start <= end):
        raise BadRequestError("Invalid cursor")
    try:
        parse_iso(start)
        parse_iso(end)
    except ValueError as exc:
        raise BadRequestError("Invalid cursor") from exc
    assert isinstance(key, dict)
    return start, end, key


def _is_string_key(key: object) -> bool:
    return (
        isinstance(key, dict)
        and 0 < len(key) <= 4
        and all(
            isinstance(name, str) and isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)
            for name, value in key.items()
        )
    )


def query_page(
    query: Callable[..., dict[str, Any]],
    request: dict[str, Any],
    *,
    limit: int,
    start_key: dict[str, Any] | None,
    key_attributes: tuple[str, ...],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to `limit` raw items of a (possibly filtered) Query and the key to continue from.

    DynamoDB applies `Limit` before a FilterExpression, so pages are read until `limit`
    items passed the filter. The continuation key is built from the last item returned,
    so no item is skipped or repeated when a read page is cut short.
    """
    items: list[dict[str, Any]] = []
    filtered = "FilterExpression" in request
    exclusive_start = start_key
    while True:
        page_request = {**request, "Limit": 100 if filtered else limit - len(items)}
        if exclusive_start:
            page_request["ExclusiveStartKey"] = exclusive_start
        response = query(**page_request)
        page = response.get("Items", [])
        room = limit - len(items)
        items.extend(page[:room])
        exclusive_start = response.get("LastEvaluatedKey")
        if len(page) > room or (exclusive_start and len(items) == limit):
            return items, {name: items[-1][name] for name in key_attributes}
        if not exclusive_start:
            return items, None

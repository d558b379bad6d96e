"""Cursors are opaque, and refused (400) when tampered with or replayed by another tenant or query."""

from __future__ import annotations

import pytest

from alphapulse.core.errors import BadRequestError
from alphapulse.core.pagination import decode_cursor, encode_cursor

KEY = {"pk": {"S": "T#default#TRADE#t1"}, "sk": {"S": "TRADE"}}


def test_cursor_round_trip(app_env: None) -> None:
    cursor = encode_cursor(KEY, tenant_id="default", query="q")
    assert decode_cursor(cursor, tenant_id="default", query="q") == KEY
    assert "TRADE" not in cursor  # opaque enough that nobody builds one by hand


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c + "x",
        lambda c: "x" + c,
        lambda c: c.replace(".", ".A", 1),
        lambda c: c.split(".")[0],
        lambda c: "ünïcode." + c.split(".")[1],
        lambda c: c.split(".")[0] + ".ü",
        lambda c: "a" * 3000,
        lambda c: "",
    ],
)
def test_cursor_tampered_400(app_env: None, mutate: object) -> None:
    cursor = encode_cursor(KEY, tenant_id="default", query="q")
    with pytest.raises(BadRequestError):
        decode_cursor(mutate(cursor), tenant_id="default", query="q")  # type: ignore[operator]


def test_cursor_other_tenant_or_query_400(app_env: None) -> None:
    cursor = encode_cursor(KEY, tenant_id="default", query="q")
    with pytest.raises(BadRequestError):
        decode_cursor(cursor, tenant_id="acme", query="q")
    with pytest.raises(BadRequestError):
        decode_cursor(cursor, tenant_id="default", query="other")

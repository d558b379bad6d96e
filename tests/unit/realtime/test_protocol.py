"""Client frames and server messages of DESIGN §5, without any I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alphapulse.realtime.protocol import (
    MAX_FRAME_BYTES,
    FrameError,
    Ping,
    Subscribe,
    Unsubscribe,
    encode,
    parse_frame,
    push,
)

EITHER = {"bad_request", "unknown_action"}


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        (None, EITHER),
        ("", EITHER),
        ("not json", EITHER),
        ("{" * 50, EITHER),
        ("[1, 2]", EITHER),
        ("null", EITHER),
        ("1e308", EITHER),
        (b"\x00\xff\xfe", EITHER),
        ('{"channels": ["trades"]}', EITHER),
        ('{"action": 7}', EITHER),
        ('{"action": null}', EITHER),
        ('{"action": ["subscribe"]}', EITHER),
        ('{"action": "dance"}', {"unknown_action"}),
        ('{"action": "SUBSCRIBE", "channels": ["trades"]}', {"unknown_action"}),
        ('{"action": "subscribe"}', {"bad_request"}),
        ('{"action": "subscribe", "channels": []}', {"bad_request"}),
        ('{"action": "subscribe", "channels": "trades"}', {"bad_request"}),
        ('{"action": "subscribe", "channels": [1]}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades", null]}', {"bad_request"}),
        ('{"action": "subscribe", "channels": [["trades"]]}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": 5}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": []}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": {"trades": "a"}}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": {"trades": -1}}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": {"trades": 1.5}}', {"bad_request"}),
        ('{"action": "subscribe", "channels": ["trades"], "since": {"trades": true}}', {"bad_request"}),
        ('{"action": "unsubscribe"}', {"bad_request"}),
        ('{"action": "unsubscribe", "channels": [[]]}', {"bad_request"}),
        (json.dumps({"action": "subscribe", "channels": [f"c{n}" for n in range(17)]}), {"bad_request"}),
    ],
)
def test_parse_frame_bad_frames_get_their_error_code(body: str | bytes | None, codes: set[str]) -> None:
    with pytest.raises(FrameError) as raised:
        parse_frame(body)
    assert raised.value.code in codes
    assert raised.value.message


def test_parse_frame_too_large_is_refused_before_parsing() -> None:
    body = json.dumps({"action": "ping", "pad": "x" * MAX_FRAME_BYTES})
    with pytest.raises(FrameError) as raised:
        parse_frame(body)
    assert raised.value.code == "too_large"
    # Multi-byte characters count as bytes, not characters.
    with pytest.raises(FrameError):
        parse_frame(json.dumps({"action": "ping", "pad": "ü" * (MAX_FRAME_BYTES // 2)}, ensure_ascii=False))


def test_parse_frame_actions() -> None:
    assert parse_frame('{"action": "ping", "extra": "ignored"}') == Ping()
    assert parse_frame(b'{"action": "unsubscribe", "channels": ["trades"]}') == Unsubscribe(("trades",))
    frame = parse_frame('{"action":"subscribe","channels":["alerts","trades","alerts"],"since":{"alerts":41}}')
    assert frame == Subscribe(("alerts", "trades"), {"alerts": 41})  # order kept, repeats dropped
    assert parse_frame('{"action":"subscribe","channels":["weather"]}') == Subscribe(("weather",), {})


def test_push_and_encode_shapes() -> None:
    message = push(
        "trade", "trades", 7, datetime(2026, 11, 24, 2, 30, tzinfo=UTC), {"price": Decimal("228.5"), "qty": Decimal(10)}
    )
    assert json.loads(encode(message)) == {
        "type": "trade",
        "channel": "trades",
        "seq": 7,
        "timestamp": "2026-11-24T02:30:00.000000Z",
        "data": {"price": 228.5, "qty": 10},
    }
    with pytest.raises(TypeError):
        encode({"data": object()})

"""The WebSocket protocol of DESIGN section 5: channels and their permissions, client frames, server messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from alphapulse.core import inputs
from alphapulse.core.times import iso

CHANNEL_PERMISSIONS: dict[str, str] = {
    "metrics": "view_metrics",
    "alerts": "view_alerts",
    "portfolio": "view_portfolio",
    "trades": "view_trades",
    "system": "view_system",
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_PERMISSIONS)
# Channels whose pushes carry the whole current state: a subscriber first gets that state.
SNAPSHOT_CHANNELS = frozenset({"portfolio", "system"})
# Push types and the channel each is published on.
EVENT_CHANNELS: dict[str, str] = {
    "alert": "alerts",
    "alert_update": "alerts",
    "trade": "trades",
    "portfolio": "portfolio",
    "metrics": "metrics",
    "system": "system",
}
# API Gateway's own frame limit is 32 KB; no valid frame comes near it.
MAX_FRAME_BYTES = 32 * 1024
MAX_CHANNELS_PER_FRAME = 16

Publisher = Callable[[str, str, str, Mapping[str, Any]], object]
"""Pushes `data` on a tenant's channel: `publish(tenant_id, channel, type_, data)` (realtime.wiring.publish)."""

ErrorCode = Literal["bad_request", "forbidden", "unknown_channel", "unknown_action", "too_large"]


class FrameError(Exception):
    """A frame that gets an `error` message (the connection stays open)."""

    def __init__(self, code: ErrorCode, message: str, channel: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.channel = channel


@dataclass(frozen=True)
class Subscribe:
    channels: tuple[str, ...]
    since: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Unsubscribe:
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Ping:
    pass


Frame = Subscribe | Unsubscribe | Ping


def parse_frame(body: str | bytes | None) -> Frame:
    """A client frame, or FrameError. `channels` keeps the request's order, without repeats."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        document = inputs.loads(raw)
    except inputs.TooDeepError as exc:
        raise FrameError("bad_request", f"the frame is {exc}") from None
    except ValueError:
        raise FrameError("bad_request", "the frame is not valid JSON") from None
    if not isinstance(document, dict):
        raise FrameError("bad_request", "the frame must be a JSON object")
    action = document.get("action")
    if not isinstance(action, str):
        raise FrameError("bad_request", "`action` must be a string")
    if action == "ping":
        return Ping()
    if action == "subscribe":
        return Subscribe(_channels(document), _since(document.get("since")))
    if action == "unsubscribe":
        return Unsubscribe(_channels(document))
    raise FrameError("unknown_action", "known actions: subscribe, unsubscribe, ping")


def _channels(document: dict[str, Any]) -> tuple[str, ...]:
    channels = document.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise FrameError("bad_request", "`channels` must be a non-empty list of strings")
    if len(channels) > MAX_CHANNELS_PER_FRAME:  # one error per unknown channel: bound the replies to a frame
        raise FrameError("bad_request", f"`channels` lists at most {MAX_CHANNELS_PER_FRAME} channels")
    return tuple(dict.fromkeys(channels))


def _since(since: object) -> dict[str, int]:
    if since is None:
        return {}
    if not isinstance(since, dict):
        raise FrameError("bad_request", "`since` must map channels to the last seq received (integers >= 0)")
    positions: dict[str, int] = {}
    for channel, seq in since.items():
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise FrameError("bad_request", "`since` must map channels to the last seq received (integers >= 0)")
        positions[str(channel)] = seq
    return positions


def push(type_: str, channel: str, seq: int, timestamp: datetime, data: Any) -> dict[str, Any]:
    """A server push: `{type, channel, seq, timestamp, data}`."""
    return {"type": type_, "channel": channel, "seq": seq, "timestamp": iso(timestamp), "data": data}


def error(code: ErrorCode, message: str, channel: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "channel": channel}


def subscribed(channels: list[str]) -> dict[str, Any]:
    return {"type": "subscribed", "channels": channels}


def unsubscribed(channels: list[str]) -> dict[str, Any]:
    return {"type": "unsubscribed", "channels": channels}


def resync_required(channel: str) -> dict[str, Any]:
    return {"type": "resync_required", "channel": channel}


PONG: dict[str, Any] = {"type": "pong"}


def encode(message: Mapping[str, Any]) -> bytes:
    """A message as compact JSON (stored numbers come back as Decimal; times as ISO strings)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

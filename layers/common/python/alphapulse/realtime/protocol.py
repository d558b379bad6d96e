"""The WebSocket protocol of DESIGN section 5: channels and their permissions, client frames, server messages;
and the push queue's messages to the publisher function."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

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


class Publisher(Protocol):
    """Pushes `data` on a tenant's channel as a `type_` message (`realtime.wiring.publish`). `push_id` names what
    is pushed (an event's identity): the same push sent again within minutes is pushed once."""

    def __call__(
        self, tenant_id: str, channel: str, type_: str, data: Mapping[str, Any] | None, *, push_id: str
    ) -> object: ...


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


# --- the push queue: what the publisher function is asked to do, one (tenant, channel) at a time ---


@dataclass(frozen=True)
class PushRequest:
    """A push queued for the publisher: `type_` with `data` on the tenant's channel, published at `at`. A push too
    large for one WebSocket message is queued without its data, and its subscribers get `resync_required`."""

    tenant_id: str
    channel: str
    type: str
    data: Mapping[str, Any] | None
    at: float
    too_large: bool = False


@dataclass(frozen=True)
class SubscriptionRequest:
    """A subscription change queued for the publisher, in its channel's turn: catch the connection up on the
    channel from `since` and subscribe it live, or (`subscribe` false) unsubscribe it."""

    tenant_id: str
    channel: str
    connection_id: str
    since: int | None = None
    subscribe: bool = True


class ChannelQueue(Protocol):
    """The push queue (`realtime.repositories.queues.SqsChannelQueue`): one ordered group per (tenant, channel)."""

    def send(self, tenant_id: str, channel: str, body: str, *, deduplication_id: str) -> None: ...


def request_body(request: PushRequest | SubscriptionRequest) -> str:
    """The push queue message of a request (JSON; `encode` turns stored numbers and times into JSON)."""
    kind = "push" if isinstance(request, PushRequest) else "subscription"
    return encode({"kind": kind, **asdict(request)}).decode()


def parse_request(body: str) -> PushRequest | SubscriptionRequest:
    """A push queue message; ValueError when it is not one."""
    try:
        document = inputs.loads(body)
        kind = document.pop("kind")
        if kind == "push":
            request = PushRequest(**document)
            if not isinstance(request.data, dict | None):
                raise TypeError("data is not an object")
            return request
        if kind == "subscription":
            return SubscriptionRequest(**document)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a push queue message: {exc}") from exc
    raise ValueError(f"not a push queue message: kind {kind!r}")

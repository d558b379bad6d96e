"""The real-time path's collaborators (core.wiring explains the pattern), and `publish`, which ingest and
the alerts routes push through (the push queue, then the publisher function).

Each WebSocket function builds only what it uses: $connect needs no management API, a frame needs no
fan-out queue. The current state that a `portfolio` or `system` subscriber gets first comes from those
domains' own logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from alphapulse.aws.management_api import ManagementApiClient
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository
from alphapulse.realtime.repositories.queues import SqsChannelQueue, SqsShardQueue

if TYPE_CHECKING:
    from alphapulse.auth.repositories import TicketRepository
    from alphapulse.realtime.logic.broadcast import Broadcaster, Fanout
    from alphapulse.realtime.logic.subscriptions import CatchUp, FrameHandler


class RealtimeDependencies(Dependencies):
    @cached_property
    def connections(self) -> ConnectionRepository:
        """Connections and subscriptions (CONNECTIONS_TABLE)."""
        return ConnectionRepository(get_settings().require("connections_table"))

    @cached_property
    def channels(self) -> ChannelRepository:
        """Per-channel sequence counters, subscriptions and replay logs (CONNECTIONS_TABLE)."""
        return ChannelRepository(get_settings().require("connections_table"))

    @cached_property
    def tickets(self) -> TicketRepository:
        """Single-use WebSocket tickets, issued by the auth function (AUTH_TABLE)."""
        from alphapulse.auth.repositories import TicketRepository

        return TicketRepository(get_settings().require_auth_table())

    @cached_property
    def api(self) -> ManagementApiClient:
        """The WebSocket API's management API (WEBSOCKET_ENDPOINT)."""
        return ManagementApiClient.from_environment(get_settings().require("websocket_endpoint"))

    @cached_property
    def queue(self) -> SqsChannelQueue:
        """The push queue (PUSH_QUEUE_URL, SQS FIFO) that the publisher function consumes."""
        return SqsChannelQueue(get_settings().require("push_queue_url"))

    @cached_property
    def broadcaster(self) -> Broadcaster:
        """Numbers, logs and delivers pushes; shards large audiences through FANOUT_QUEUE_URL when set."""
        from alphapulse.realtime.logic.broadcast import Broadcaster, Fanout

        settings = get_settings()
        return Broadcaster(
            self.channels,
            Fanout(self.api, self.connections),
            retention_seconds=settings.replay_retention_seconds,
            shard_threshold=settings.fanout_shard_threshold,
            shards=SqsShardQueue(settings.fanout_queue_url) if settings.fanout_queue_url else None,
        )

    @cached_property
    def sweeper_fanout(self) -> Fanout:
        """Closes expired connections, with the sweeper's own concurrency."""
        from alphapulse.realtime.logic.broadcast import Fanout
        from alphapulse.realtime.logic.sweeper import SWEEP_CONCURRENCY

        return Fanout(self.api, self.connections, concurrency=SWEEP_CONCURRENCY)

    @cached_property
    def frames(self) -> FrameHandler:
        """Answers client frames, and queues each subscription's catch-up on the push queue."""
        from alphapulse.realtime.logic.subscriptions import FrameHandler

        return FrameHandler(self.connections, self.channels, self.api, self.queue)

    @cached_property
    def catch_ups(self) -> CatchUp:
        """Catches subscriptions up (the publisher); a new subscriber of `portfolio` or `system` first gets its
        current state."""
        from alphapulse.realtime.logic.subscriptions import CatchUp

        return CatchUp(
            self.connections,
            self.channels,
            self.api,
            snapshots={"portfolio": _portfolio_state, "system": _system_state},
        )


def _portfolio_state(tenant_id: str) -> Any:
    from alphapulse.portfolio import logic, wiring

    return logic.current_state(wiring.dependencies().portfolio, tenant_id)


def _system_state(tenant_id: str) -> Any:
    from alphapulse.system import logic, wiring

    return logic.trading_system_state(wiring.dependencies().system, tenant_id)


dependencies = Provider(RealtimeDependencies)


def publish(tenant_id: str, channel: str, type_: str, data: Mapping[str, Any] | None, *, push_id: str) -> None:
    """Queue `data` for every subscriber of the tenant's `channel`, as a `type_` message (the publisher function
    numbers and delivers it). `push_id` names the push: the same one queued again within minutes is pushed once."""
    from alphapulse.realtime.logic.publisher import queue_push

    queue_push(dependencies().queue, tenant_id, channel, type_, data, push_id=push_id)

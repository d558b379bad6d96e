"""Closes WebSocket connections whose lifetime has ended (DESIGN section 5: "once the token expires, pushes stop
and the server closes the connection"), for connections that get no push and send no frame.

Run every minute by ConnectionSweeperFunction. No Scan: the tenants are listed in the connections table at
$connect, and each tenant's expired connections are one gsi1 query (`expires_at <= now`, oldest first). Each is
closed and forgotten exactly as a push to it would (`Fanout.close_expired`). At most `limit` connections per run;
the next run takes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic.broadcast import Fanout
from alphapulse.realtime.repositories.connections import ConnectionRepository

MAX_CLOSES_PER_RUN = 1000
SWEEP_CONCURRENCY = 32


@dataclass
class SweepReport:
    tenants: int = 0
    closed: int = 0
    failed: int = 0  # connections or tenants that could not be handled; the next run tries again
    more: bool = False  # the run stopped at its limit: expired connections may be left


def sweep(
    connections: ConnectionRepository, fanout: Fanout, *, now: int, limit: int = MAX_CLOSES_PER_RUN
) -> SweepReport:
    """Close and forget every tenant's expired connections, at most `limit` of them."""
    report = SweepReport()
    tenants = connections.connected_tenants()
    for tenant_id in tenants:
        if report.closed + report.failed >= limit:
            report.more = True
            break
        report.tenants += 1
        try:
            targets, more = connections.expired(tenant_id, now, limit=limit - report.closed - report.failed)
        except DataAccessError:
            get_logger().warning("could not list expired connections", extra={"tenant_id": tenant_id})
            report.failed += 1
            continue
        closed = fanout.close_expired(tenant_id, targets, now=now)
        report.closed += closed.expired
        report.failed += len(closed.failed)
        report.more = report.more or more
    get_logger().info(
        "swept expired connections",
        extra={
            "tenants": report.tenants,
            "listed_tenants": len(tenants),
            "closed": report.closed,
            "failed": report.failed,
            "more": report.more,
        },
    )
    return report

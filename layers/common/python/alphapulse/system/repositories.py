"""The trading system's latest status, and the reads behind GET /system (docs/data-model.md).

| item | pk | sk |
|---|---|---|
| latest system status | `T#<t>#SYSTEM` | `LATEST` |

It also reads, without owning them, the newest trade (index gsi1, `T#<t>#TRADES`, sort key
`<executed_at>#<trade_id>`, descending, limit 1), the latest portfolio (`T#<t>#PORTFOLIO` /
`LATEST`, attribute `as_of`) and the latest metric values (`T#<t>#METRICS` / `LATEST#<name>`,
attribute `timestamp`): the event-feed freshness is the newest of them. The WebSocket connection
count is read from the connections table (`ConnectionRepository.count_live`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alphapulse.aws.dynamodb import from_item, to_item
from alphapulse.core import keys
from alphapulse.core.claims import ClaimingRepository, ClaimTarget
from alphapulse.core.storage import storage_errors
from alphapulse.core.times import iso, parse_iso, utcnow
from alphapulse.system.models import LatestState, TradingSystemStatus

LATEST = "LATEST"
_SMALLEST = 1e-130  # DynamoDB stores no non-zero magnitude below this
_BATCH_ATTEMPTS = 3


def _system_key(tenant_id: str) -> str:
    return keys.tenant_key(tenant_id, "SYSTEM")


def _portfolio_key(tenant_id: str) -> str:
    return keys.tenant_key(tenant_id, "PORTFOLIO")


def status_key(tenant_id: str) -> dict[str, Any]:
    """The key of the tenant's latest system status."""
    return to_item({"pk": _system_key(tenant_id), "sk": LATEST})


def _storable(value: Any) -> Any:
    if isinstance(value, float) and abs(value) < _SMALLEST:
        return 0.0
    if isinstance(value, Mapping):
        return {k: _storable(v) for k, v in value.items()}
    return value


def _time(value: Any) -> datetime | None:
    """A stored ISO time, or None when it is missing or unreadable (another writer's item)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


class SystemRepository(ClaimingRepository):
    """The latest system status (read and idempotent write), the event-feed freshness reads and the
    count of live WebSocket connections (in the table named by CONNECTIONS_TABLE)."""

    def claim_target(self, tenant_id: str) -> ClaimTarget:
        """The LATEST status item, which carries the push the newest status owes."""
        return ClaimTarget(self, status_key(tenant_id))

    def live_connections(self, tenant_id: str) -> int:
        """The tenant's WebSocket connections whose lifetime has not ended."""
        from alphapulse.core.config import get_settings
        from alphapulse.realtime.repositories.connections import ConnectionRepository

        table = get_settings().require("connections_table")
        return ConnectionRepository(table, self._client).count_live(tenant_id, int(utcnow().timestamp()))

    def put_status(self, tenant_id: str, status: TradingSystemStatus) -> bool:
        """Store `status` as the tenant's latest unless a report at least as new is stored; True when stored.

        A conditional write on `reported_at`, so redeliveries and out-of-order reports never move
        the latest status backwards. A claiming repository stores its claim with the status.
        """
        reported_at = iso(status.reported_at)
        body = _storable(status.model_dump(exclude={"reported_at"}))
        item = {"pk": _system_key(tenant_id), "sk": LATEST, **body, "reported_at": reported_at}
        item.update(self.claim_attributes())
        with storage_errors("put system status"):
            response = self.conditional(
                "put_item",
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR reported_at < :at",
                ExpressionAttributeValues=to_item({":at": reported_at}),
            )
        return response is not None

    def latest_state(self, tenant_id: str) -> LatestState:
        """The latest system status and the latest portfolio's `as_of`, in one BatchGetItem.

        This is the database probe of GET /system: one cheap, real read.
        """
        wanted = {_system_key(tenant_id), _portfolio_key(tenant_id)}
        request: dict[str, Any] = {
            self.table: {
                "Keys": [to_item({"pk": pk, "sk": LATEST}) for pk in sorted(wanted)],
                "ProjectionExpression": "pk, cpu, #memory, disk, #process, reported_at, as_of",
                "ExpressionAttributeNames": {"#memory": "memory", "#process": "process"},
            }
        }
        found: dict[str, dict[str, Any]] = {}
        with storage_errors("read latest state"):
            for _ in range(_BATCH_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table, []):
                    item = from_item(raw)
                    found[item["pk"]] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        system = found.get(_system_key(tenant_id))
        portfolio = found.get(_portfolio_key(tenant_id)) or {}
        return LatestState(
            trading_system=TradingSystemStatus.model_validate(system) if system else None,
            portfolio_as_of=_time(portfolio.get("as_of")),
        )

    def latest_trade_at(self, tenant_id: str) -> datetime | None:
        """`executed_at` of the tenant's newest trade, or None."""
        with storage_errors("read latest trade"):
            response = self.client.query(
                TableName=self.table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues=to_item({":pk": keys.tenant_key(tenant_id, "TRADES")}),
                ProjectionExpression="executed_at, gsi1sk",
                ScanIndexForward=False,
                Limit=1,
            )
        items = response.get("Items", [])
        if not items:
            return None
        item = from_item(items[0])
        return _time(item.get("executed_at")) or _time(str(item.get("gsi1sk", "")).split(keys.SEPARATOR)[0])

    def latest_metric_at(self, tenant_id: str) -> datetime | None:
        """The newest timestamp among the tenant's latest metric values, or None."""
        newest: datetime | None = None
        with storage_errors("read latest metric times"):
            for raw in self.query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item(
                    {":pk": keys.tenant_key(tenant_id, "METRICS"), ":prefix": keys.key(LATEST, "")}
                ),
                ProjectionExpression="#ts",
                ExpressionAttributeNames={"#ts": "timestamp"},
            ):
                moment = _time(from_item(raw).get("timestamp"))
                if moment is not None and (newest is None or moment > newest):
                    newest = moment
        return newest

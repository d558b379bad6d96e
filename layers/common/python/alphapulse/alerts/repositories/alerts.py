"""Alerts and the active alert of each dedup key, in the data table (docs/data-model.md).

- alert: `T#<t>#ALERT#<alert_id>` / `ALERT`; gsi1 `T#<t>#ALERTS` / `<created_at>#<alert_id>`;
  gsi2 `T#<t>#ALERTS#STATUS#<status>` / `<created_at>#<alert_id>` (moved on every status change).
- dedup key: `T#<t>#DEDUP#<sha256(dedup_key)>` / `ACTIVE` -> the active alert's id, and, our
  addition to the model, `.../LAST` -> the watermark: the newest event settled by a resolution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alphapulse.alerts.models import (
    AlertFilters,
    AlertRecord,
    CreateOutcome,
    DedupState,
)
from alphapulse.alerts.repositories.keys import (
    ACTIVE,
    ALERT,
    LAST,
    alert_key,
    alerts_partition,
    dedup_partition,
    status_partition,
    valid_id,
)
from alphapulse.aws.dynamodb import DynamoDBError, Item, cancellation_reasons, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.claims import PUSH_PENDING, ClaimingRepository, ClaimTarget
from alphapulse.core.pagination import query_page
from alphapulse.core.storage import storage_errors
from alphapulse.core.times import iso

INDEX_KEYS = {"gsi1": ("pk", "sk", "gsi1pk", "gsi1sk"), "gsi2": ("pk", "sk", "gsi2pk", "gsi2sk")}
_ALERT_TIMES = ("first_seen", "last_seen", "created_at", "acknowledged_at", "resolved_at")


def alert_item(tenant_id: str, alert: AlertRecord) -> dict[str, Any]:
    """The stored form of an alert, with its index keys; times in the fixed-width ISO form."""
    values = alert.model_dump(mode="json")
    for name in _ALERT_TIMES:
        moment = getattr(alert, name)
        values[name] = iso(moment) if moment is not None else None
    order = f"{values['created_at']}#{alert.alert_id}"
    return to_item(
        {
            "pk": keys.tenant_key(tenant_id, ALERT, alert.alert_id),
            "sk": ALERT,
            "gsi1pk": alerts_partition(tenant_id),
            "gsi1sk": order,
            "gsi2pk": status_partition(tenant_id, alert.status),
            "gsi2sk": order,
            **values,
        }
    )


def _alert(item: Item) -> AlertRecord:
    return AlertRecord.model_validate(item)


def _untabled(request: dict[str, Any]) -> dict[str, Any]:
    """A transaction item's request as keyword arguments for `conditional` (which names the table)."""
    return {name: value for name, value in request.items() if name != "TableName"}


class AlertRepository(ClaimingRepository):
    """Reads and writes a tenant's alerts and the dedup-key items that drive their lifecycle.

    A claiming repository (`claiming`) stores its claim on the alert with every create, bump and
    resolve: the change it owes a push for.
    """

    def claim_target(self, tenant_id: str, alert_id: str) -> ClaimTarget:
        """The alert's item, which carries the push its last change owes."""
        return ClaimTarget(self, alert_key(tenant_id, alert_id))

    def get(self, tenant_id: str, alert_id: str) -> AlertRecord | None:
        """The alert, or None when the tenant has no alert with this id."""
        if not valid_id(alert_id):
            return None  # no stored alert has such an id, and it must not reach a key
        with storage_errors("get alert"):
            response = self.client.get_item(
                TableName=self.table, Key=alert_key(tenant_id, alert_id), ConsistentRead=True
            )
        item = response.get("Item")
        return _alert(from_item(item)) if item else None

    def query(
        self, tenant_id: str, filters: AlertFilters, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRecord], dict[str, Any] | None]:
        """A page of alerts, newest first: gsi2 when filtering by status, gsi1 otherwise."""
        index = "gsi2" if filters.status else "gsi1"
        partition = status_partition(tenant_id, filters.status) if filters.status else alerts_partition(tenant_id)
        values: dict[str, Any] = {":pk": partition}
        condition = f"{index}pk = :pk"
        low = iso(filters.start_time) if filters.start_time else None
        high = iso(filters.end_time) + "~" if filters.end_time else None  # '~' sorts after '#<alert_id>'
        if low and high:
            condition += f" AND {index}sk BETWEEN :low AND :high"
            values.update({":low": low, ":high": high})
        elif low:
            condition += f" AND {index}sk >= :low"
            values[":low"] = low
        elif high:
            condition += f" AND {index}sk <= :high"
            values[":high"] = high
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        filters_expr: list[str] = []
        names: dict[str, str] = {}
        if filters.severity:
            filters_expr.append("#severity = :severity")
            names["#severity"] = "severity"
            values[":severity"] = filters.severity
        if filters.source:
            filters_expr.append("#source = :source")
            names["#source"] = "source"
            values[":source"] = filters.source
        if filters_expr:
            request["FilterExpression"] = " AND ".join(filters_expr)
            request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = to_item(values)
        with storage_errors("list alerts"):
            items, next_key = query_page(
                self.client.query, request, limit=limit, start_key=start_key, key_attributes=INDEX_KEYS[index]
            )
        return [_alert(from_item(item)) for item in items], next_key

    def dedup_state(self, tenant_id: str, dedup_key: str) -> DedupState:
        """The active alert of a dedup key and its watermark (one Query over both items)."""
        with storage_errors("read dedup key"):
            response = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": dedup_partition(tenant_id, dedup_key)}),
                ConsistentRead=True,
            )
        items = {item["sk"]: item for item in map(from_item, response.get("Items", []))}
        active, last = items.get(ACTIVE), items.get(LAST)
        return DedupState(
            active_alert_id=str(active["alert_id"]) if active else None,
            watermark=str(last["watermark"]) if last else None,
        )

    def last_resolved_alert_id(self, tenant_id: str, dedup_key: str) -> str | None:
        """The alert that the dedup key's last resolution resolved (its `LAST` item), or None."""
        with storage_errors("read dedup watermark"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": dedup_partition(tenant_id, dedup_key), "sk": LAST}),
                ConsistentRead=True,
                ProjectionExpression="alert_id",
            )
        alert_id = from_item(response.get("Item") or {}).get("alert_id")
        return alert_id if isinstance(alert_id, str) else None

    def create(self, tenant_id: str, alert: AlertRecord) -> CreateOutcome:
        """Store a new alert and, with a dedup key, make it the key's active alert, atomically.

        `id_taken`: an alert with this id exists; `dedup_taken`: the key already has an active
        alert; `stale`: the event is not newer than the key's watermark; `retry`: a concurrent
        transaction touched the same items.
        """
        put_alert: dict[str, Any] = {
            "TableName": self.table,
            "Item": {**alert_item(tenant_id, alert), **to_item(self.claim_attributes())},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        with storage_errors("create alert"):
            if alert.dedup_key is None:
                return "id_taken" if self.conditional("put_item", **_untabled(put_alert)) is None else "created"
            partition = dedup_partition(tenant_id, alert.dedup_key)
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {"Put": put_alert},
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": to_item({"pk": partition, "sk": ACTIVE, "alert_id": alert.alert_id}),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "ConditionCheck": {
                                "TableName": self.table,
                                "Key": to_item({"pk": partition, "sk": LAST}),
                                "ConditionExpression": "attribute_not_exists(pk) OR watermark < :event_at",
                                "ExpressionAttributeValues": to_item({":event_at": alert.last_event_at}),
                            }
                        },
                    ]
                )
            except DynamoDBError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = cancellation_reasons(exc) or []
                if len(reasons) == 3 and "ConditionalCheckFailed" in reasons:
                    if reasons[0] == "ConditionalCheckFailed":
                        return "id_taken"
                    if reasons[1] == "ConditionalCheckFailed":
                        return "dedup_taken"
                    return "stale"
                return "retry"
        return "created"

    def bump(
        self, tenant_id: str, alert_id: str, *, event_at: datetime, metric_value: float | None
    ) -> AlertRecord | None:
        """Count one more firing event on an active alert; None when it is no longer active or the
        event is not newer than its last one."""
        assignments = ["last_seen = :at", "last_event_at = :at"]
        values: dict[str, Any] = {":at": iso(event_at), ":one": 1, ":firing": "firing", ":ack": "acknowledged"}
        if metric_value is not None:
            assignments.append("metric_value = :value")
            values[":value"] = metric_value
        names = {"#count": "count", "#status": "status"}
        if self._claim is not None:
            assignments.append("#pending = :claim")
            names["#pending"] = PUSH_PENDING
            values[":claim"] = str(self._claim)
        with storage_errors("bump alert"):
            response = self.conditional(
                "update_item",
                Key=alert_key(tenant_id, alert_id),
                UpdateExpression=f"SET {', '.join(assignments)} ADD #count :one",
                ConditionExpression="#status IN (:firing, :ack) AND last_event_at < :at",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        return _alert(from_item(response["Attributes"])) if response else None

    def acknowledge(
        self, tenant_id: str, alert_id: str, *, by: str, at: datetime, note: str | None
    ) -> AlertRecord | None:
        """Acknowledge a firing alert; None when it is unknown or not firing (the loser of a race)."""
        if not valid_id(alert_id):
            return None
        assignments = [
            "#status = :acknowledged",
            "acknowledged = :true",
            "acknowledged_by = :by",
            "acknowledged_at = :at",
            "gsi2pk = :gsi2pk",
        ]
        values: dict[str, Any] = {
            ":acknowledged": "acknowledged",
            ":firing": "firing",
            ":true": True,
            ":by": by,
            ":at": iso(at),
            ":gsi2pk": status_partition(tenant_id, "acknowledged"),
        }
        if note is not None:
            assignments.append("ack_note = :note")
            values[":note"] = note
        with storage_errors("acknowledge alert"):
            response = self.conditional(
                "update_item",
                Key=alert_key(tenant_id, alert_id),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="#status = :firing",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        return _alert(from_item(response["Attributes"])) if response else None

    def resolve(
        self, tenant_id: str, alert: AlertRecord, *, by: str, at: datetime, note: str | None, last_event_at: str
    ) -> AlertRecord | None:
        """Resolve `alert` if it is still in the state it was read in (status and last event).

        With a dedup key, the same transaction deletes the key's ACTIVE item (so the next firing
        event opens a new alert) and records the watermark. None when the alert changed meanwhile.
        """
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": alert_key(tenant_id, alert.alert_id),
            "UpdateExpression": "SET "
            + ", ".join(
                [
                    "#status = :resolved",
                    "resolved_at = :at",
                    "resolved_by = :by",
                    "last_event_at = :last",
                    "gsi2pk = :gsi2pk",
                    *(["resolve_note = :note"] if note is not None else []),
                    *(["#pending = :claim"] if self._claim is not None else []),
                ]
            ),
            "ConditionExpression": "#status = :seen_status AND last_event_at = :seen_last",
            "ExpressionAttributeNames": {"#status": "status", **({"#pending": PUSH_PENDING} if self._claim else {})},
            "ExpressionAttributeValues": to_item(
                {
                    ":resolved": "resolved",
                    ":at": iso(at),
                    ":by": by,
                    ":last": last_event_at,
                    ":gsi2pk": status_partition(tenant_id, "resolved"),
                    ":note": note,
                    ":seen_status": alert.status,
                    ":seen_last": alert.last_event_at,
                    ":claim": str(self._claim) if self._claim is not None else None,
                }
            ),
        }
        resolved = alert.model_copy(
            update={
                "status": "resolved",
                "resolved_at": at,
                "resolved_by": by,
                "resolve_note": note,
                "last_event_at": last_event_at,
            }
        )
        with storage_errors("resolve alert"):
            if alert.dedup_key is None:
                return None if self.conditional("update_item", **_untabled(update)) is None else resolved
            partition = dedup_partition(tenant_id, alert.dedup_key)
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {"Update": update},
                        {
                            "Delete": {
                                "TableName": self.table,
                                "Key": to_item({"pk": partition, "sk": ACTIVE}),
                                "ConditionExpression": "attribute_not_exists(pk) OR alert_id = :id",
                                "ExpressionAttributeValues": to_item({":id": alert.alert_id}),
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": to_item(
                                    {
                                        "pk": partition,
                                        "sk": LAST,
                                        "alert_id": alert.alert_id,
                                        "watermark": last_event_at,
                                    }
                                ),
                            }
                        },
                    ]
                )
            except DynamoDBError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = cancellation_reasons(exc) or []
                if reasons[1:2] == ["ConditionalCheckFailed"] and reasons[0] != "ConditionalCheckFailed":
                    # The key's active alert is another one (not ours to release): resolve ours alone.
                    return None if self.conditional("update_item", **_untabled(update)) is None else resolved
                return None
        return resolved

    def settle(self, tenant_id: str, dedup_key: str, *, watermark: str) -> None:
        """Raise a dedup key's watermark (a resolution arrived while no alert was active)."""
        with storage_errors("settle dedup key"):
            self.conditional(
                "update_item",
                Key=to_item({"pk": dedup_partition(tenant_id, dedup_key), "sk": LAST}),
                UpdateExpression="SET watermark = :w",
                ConditionExpression="attribute_not_exists(pk) OR watermark < :w",
                ExpressionAttributeValues=to_item({":w": watermark}),
            )

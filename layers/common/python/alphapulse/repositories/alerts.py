"""Alerts, the active alert of each dedup key, and alert rules, in the data table (docs/data-model.md).

- alert: `T#<t>#ALERT#<alert_id>` / `ALERT`; gsi1 `T#<t>#ALERTS` / `<created_at>#<alert_id>`;
  gsi2 `T#<t>#ALERTS#STATUS#<status>` / `<created_at>#<alert_id>` (moved on every status change).
- dedup key: `T#<t>#DEDUP#<sha256(dedup_key)>` / `ACTIVE` -> the active alert's id, and, our
  addition to the model, `.../LAST` -> the watermark: the newest event settled by a resolution.
- rules: `T#<t>#RULES` / `RULE#<rule_id>`, and the `SEEDED` marker of the default rules.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from alphapulse import keys
from alphapulse.alerts import AlertFilters, CreateOutcome, DedupState
from alphapulse.dynamo import Item, from_item, storage_errors, to_item
from alphapulse.dynamodb_client import DynamoDBError
from alphapulse.models.alerts import ID_MAX_LENGTH, ID_PATTERN, AlertRecord, AlertRule, AlertStatus
from alphapulse.pagination import query_page
from alphapulse.repositories.base import TableRepository
from alphapulse.repositories.push_claims import PUSH_PENDING, Claim, ClaimingRepository
from alphapulse.rules_engine import RuleState
from alphapulse.timeutil import iso

ALERT = "ALERT"
ACTIVE = "ACTIVE"
LAST = "LAST"
SEEDED = "SEEDED"
RULE_PREFIX = "RULE#"
STATE_PREFIX = "STATE#"
INDEX_KEYS = {"gsi1": ("pk", "sk", "gsi1pk", "gsi1sk"), "gsi2": ("pk", "sk", "gsi2pk", "gsi2sk")}
_ID = re.compile(ID_PATTERN)
_ALERT_TIMES = ("first_seen", "last_seen", "created_at", "acknowledged_at", "resolved_at")


def valid_id(value: str) -> bool:
    """True for an id that a stored alert or rule can have (so it makes a safe key part)."""
    return len(value) <= ID_MAX_LENGTH and bool(_ID.match(value))


def alert_key(tenant_id: str, alert_id: str) -> dict[str, Any]:
    return to_item({"pk": keys.tenant_key(tenant_id, ALERT, alert_id), "sk": ALERT})


def alerts_partition(tenant_id: str) -> str:
    """gsi1 partition of a tenant's alerts."""
    return keys.tenant_key(tenant_id, "ALERTS")


def status_partition(tenant_id: str, status: AlertStatus) -> str:
    """gsi2 partition of a tenant's alerts in one status."""
    return keys.tenant_key(tenant_id, "ALERTS", "STATUS", status)


def dedup_partition(tenant_id: str, dedup_key: str) -> str:
    """Partition of a dedup key's items; the key is hashed, so any text makes a valid key."""
    return keys.tenant_key(tenant_id, "DEDUP", hashlib.sha256(dedup_key.encode("utf-8")).hexdigest())


def rules_partition(tenant_id: str) -> str:
    return keys.tenant_key(tenant_id, "RULES")


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


def _reasons(exc: DynamoDBError) -> list[str]:
    """The per-item codes of a cancelled transaction ('None' for an item that was fine)."""
    return [str(reason.get("Code", "None")) for reason in exc.response.get("CancellationReasons", [])]


class AlertRepository(ClaimingRepository):
    """Reads and writes a tenant's alerts and the dedup-key items that drive their lifecycle.

    A claiming repository (`claiming`) stores its claim on the alert with every create, bump and
    resolve: the change it owes a push for.
    """

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
                reasons = _reasons(exc)
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
                reasons = _reasons(exc)
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


def rule_item(tenant_id: str, rule: AlertRule) -> dict[str, Any]:
    return to_item({"pk": rules_partition(tenant_id), "sk": RULE_PREFIX + rule.rule_id, **rule.model_dump()})


def rule_key(tenant_id: str, rule_id: str) -> dict[str, Any]:
    return to_item({"pk": rules_partition(tenant_id), "sk": RULE_PREFIX + rule_id})


class RuleRepository(TableRepository):
    """A tenant's alert rules, in one partition, and the marker of its default rules."""

    def is_seeded(self, tenant_id: str) -> bool:
        """True once the tenant received the default rules."""
        with storage_errors("read rules marker"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": rules_partition(tenant_id), "sk": SEEDED}),
                ConsistentRead=True,
            )
        return "Item" in response

    def seed(self, tenant_id: str, rules: list[AlertRule]) -> bool:
        """Store `rules` with the marker, atomically, unless the marker exists; True when seeded now."""
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": to_item({"pk": rules_partition(tenant_id), "sk": SEEDED}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        puts = [{"Put": {"TableName": self.table, "Item": rule_item(tenant_id, rule)}} for rule in rules]
        with storage_errors("seed rules"):
            try:
                self.client.transact_write_items(TransactItems=[marker, *puts])
            except DynamoDBError as exc:
                if exc.response["Error"]["Code"] == "TransactionCanceledException":
                    return False  # seeded already, or being seeded by a concurrent request
                raise
        return True

    def query(
        self, tenant_id: str, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRule], dict[str, Any] | None]:
        """A page of the tenant's rules, by rule_id."""
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :rule)",
            "ExpressionAttributeValues": to_item({":pk": rules_partition(tenant_id), ":rule": RULE_PREFIX}),
            "ConsistentRead": True,
        }
        with storage_errors("list rules"):
            items, next_key = query_page(
                self.client.query, request, limit=limit, start_key=start_key, key_attributes=("pk", "sk")
            )
        return [AlertRule.model_validate(from_item(item)) for item in items], next_key

    def get(self, tenant_id: str, rule_id: str) -> AlertRule | None:
        """One rule, or None."""
        if not valid_id(rule_id):
            return None
        with storage_errors("get rule"):
            response = self.client.get_item(TableName=self.table, Key=rule_key(tenant_id, rule_id), ConsistentRead=True)
        item = response.get("Item")
        return AlertRule.model_validate(from_item(item)) if item else None

    def create(self, tenant_id: str, rule: AlertRule) -> None:
        """Store a new rule (ids are server-generated, so an existing one is a bug, not a conflict)."""
        with storage_errors("create rule"):
            self.client.put_item(
                TableName=self.table, Item=rule_item(tenant_id, rule), ConditionExpression="attribute_not_exists(pk)"
            )

    def replace(self, tenant_id: str, rule: AlertRule) -> bool:
        """Replace an existing rule; False when there is none."""
        if not valid_id(rule.rule_id):
            return False
        with storage_errors("replace rule"):
            response = self.conditional(
                "put_item", Item=rule_item(tenant_id, rule), ConditionExpression="attribute_exists(pk)"
            )
        return response is not None

    def delete(self, tenant_id: str, rule_id: str) -> bool:
        """Delete a rule; False when there is none."""
        if not valid_id(rule_id):
            return False
        with storage_errors("delete rule"):
            response = self.conditional(
                "delete_item", Key=rule_key(tenant_id, rule_id), ConditionExpression="attribute_exists(pk)"
            )
        return response is not None


def state_key(tenant_id: str, rule_id: str) -> dict[str, Any]:
    return to_item({"pk": rules_partition(tenant_id), "sk": STATE_PREFIX + rule_id})


class RuleStateRepository(ClaimingRepository):
    """The rules engine's state of each rule (`T#<t>#RULES` / `STATE#<rule_id>`, next to the rules)."""

    def get(self, tenant_id: str, rule_id: str) -> RuleState | None:
        """The rule's state (a strongly consistent read), or None before its first change."""
        with storage_errors("get rule state"):
            response = self.client.get_item(
                TableName=self.table, Key=state_key(tenant_id, rule_id), ConsistentRead=True
            )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        pending = item.get(PUSH_PENDING)
        return RuleState(
            firing=bool(item.get("firing")),
            fired_at=item.get("fired_at"),
            changed_at=str(item["changed_at"]),
            pending=Claim.parse(pending) if isinstance(pending, str) else None,
            pending_message=item.get("pending_message"),
        )

    def change(self, tenant_id: str, rule_id: str, *, seen: RuleState | None, new: RuleState) -> bool:
        """Store `new` if the state is still `seen` (and owes no message); False when it changed meanwhile."""
        item = {
            **state_key(tenant_id, rule_id),
            **to_item(
                {
                    "firing": new.firing,
                    "fired_at": new.fired_at,
                    "changed_at": new.changed_at,
                    PUSH_PENDING: str(new.pending) if new.pending else None,
                    "pending_message": new.pending_message,
                }
            ),
        }
        request: dict[str, Any] = {"Item": item}
        if seen is None:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            request["ConditionExpression"] = "changed_at = :seen AND attribute_not_exists(#pending)"
            request["ExpressionAttributeNames"] = {"#pending": PUSH_PENDING}
            request["ExpressionAttributeValues"] = to_item({":seen": seen.changed_at})
        with storage_errors("change rule state"):
            return self.conditional("put_item", **request) is not None

    def take_over_message(self, tenant_id: str, rule_id: str, seen: Claim, claim: Claim) -> bool:
        """Take the rule's owed message over from `seen`."""
        return self.take_over(state_key(tenant_id, rule_id), seen, claim)

    def release_message(self, tenant_id: str, rule_id: str, claim: Claim) -> bool:
        """The rule's message was published: clear it."""
        return self.release(state_key(tenant_id, rule_id), claim, remove=("pending_message",))

    def active(self, tenant_id: str) -> list[str]:
        """The ids of the tenant's rules whose state is firing or owes a message (one Query)."""
        with storage_errors("list active rule states"):
            items = list(
                self.query_all(
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :state)",
                    FilterExpression="firing = :true OR attribute_exists(#pending)",
                    ProjectionExpression="sk",
                    ExpressionAttributeNames={"#pending": PUSH_PENDING},
                    ExpressionAttributeValues=to_item(
                        {":pk": rules_partition(tenant_id), ":state": STATE_PREFIX, ":true": True}
                    ),
                    ConsistentRead=True,
                )
            )
        return [str(from_item(item)["sk"]).removeprefix(STATE_PREFIX) for item in items]

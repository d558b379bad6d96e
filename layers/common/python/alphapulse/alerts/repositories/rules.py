"""Alert rules and the rules engine's state of each rule, in the data table (docs/data-model.md).

- rules: `T#<t>#RULES` / `RULE#<rule_id>`, and the `SEEDED` marker of the default rules;
- rule state: `T#<t>#RULES` / `STATE#<rule_id>`, next to the rules.
"""

from __future__ import annotations

from typing import Any

from alphapulse.alerts.models import AlertRule, RuleState
from alphapulse.alerts.repositories.keys import rules_partition, valid_id
from alphapulse.aws.dynamodb import DynamoDBError, from_item, to_item
from alphapulse.core.claims import PUSH_PENDING, Claim, ClaimingRepository
from alphapulse.core.pagination import query_page
from alphapulse.core.storage import TableRepository, storage_errors

SEEDED = "SEEDED"
RULE_PREFIX = "RULE#"
STATE_PREFIX = "STATE#"


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

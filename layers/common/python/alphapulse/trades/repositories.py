"""Executed trades in the data table (docs/data-model.md).

A trade is `T#<t>#TRADE#<trade_id>` / `TRADE`, listed by time through gsi1
(`T#<t>#TRADES` / `<executed_at>#<trade_id>`) and by symbol and time through gsi2
(`T#<t>#TRADES#SYMBOL#<symbol>` / `<executed_at>#<trade_id>`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from alphapulse.aws.dynamodb import DynamoDBError, Item, from_item, is_condition_failure, to_item
from alphapulse.core import keys
from alphapulse.core.claims import ClaimingRepository, ClaimTarget
from alphapulse.core.keys import SYMBOL_MAX_LENGTH, SYMBOL_PATTERN
from alphapulse.core.pagination import query_page
from alphapulse.core.storage import storage_errors
from alphapulse.core.times import iso
from alphapulse.trades.models import TRADE_ID_MAX_LENGTH, TRADE_ID_PATTERN, Trade

TRADE = "TRADE"
_TRADE_ID = re.compile(TRADE_ID_PATTERN)
_SYMBOL = re.compile(SYMBOL_PATTERN)
INDEX_KEYS = {"gsi1": ("pk", "sk", "gsi1pk", "gsi1sk"), "gsi2": ("pk", "sk", "gsi2pk", "gsi2sk")}


def valid_trade_id(trade_id: str) -> bool:
    """True for an id that a stored trade can have (so it makes a safe key part)."""
    return len(trade_id) <= TRADE_ID_MAX_LENGTH and bool(_TRADE_ID.match(trade_id))


def valid_symbol(symbol: str) -> bool:
    """True for a symbol that a stored trade can have."""
    return len(symbol) <= SYMBOL_MAX_LENGTH and bool(_SYMBOL.match(symbol))


def trade_key(tenant_id: str, trade_id: str) -> dict[str, Any]:
    return to_item({"pk": keys.tenant_key(tenant_id, TRADE, trade_id), "sk": TRADE})


def trades_partition(tenant_id: str) -> str:
    """gsi1 partition of a tenant's trades."""
    return keys.tenant_key(tenant_id, "TRADES")


def symbol_partition(tenant_id: str, symbol: str) -> str:
    """gsi2 partition of a tenant's trades of one symbol."""
    return keys.tenant_key(tenant_id, "TRADES", "SYMBOL", symbol)


def trade_item(tenant_id: str, trade: Trade) -> dict[str, Any]:
    """The stored form of a trade, with its index keys."""
    executed_at = iso(trade.executed_at)
    order = f"{executed_at}#{trade.trade_id}"
    values = trade.model_dump(mode="json")
    values["executed_at"] = executed_at  # fixed width, as in the sort keys
    return to_item(
        {
            "pk": keys.tenant_key(tenant_id, TRADE, trade.trade_id),
            "sk": TRADE,
            "gsi1pk": trades_partition(tenant_id),
            "gsi1sk": order,
            "gsi2pk": symbol_partition(tenant_id, trade.symbol),
            "gsi2sk": order,
            "tenant_id": tenant_id,
            **values,
        }
    )


def _trade(item: Item) -> Trade:
    return Trade.model_validate(item)


class TradeRepository(ClaimingRepository):
    """Reads and writes a tenant's trades."""

    def claim_target(self, tenant_id: str, trade_id: str) -> ClaimTarget:
        """The trade's item, which carries the push its last change owes."""
        return ClaimTarget(self, trade_key(tenant_id, trade_id))

    def get(self, tenant_id: str, trade_id: str) -> Trade | None:
        """The trade, or None when the tenant has no trade with this id."""
        if not valid_trade_id(trade_id):
            return None  # no stored trade has such an id, and it must not reach a key
        with storage_errors("get trade"):
            response = self.client.get_item(TableName=self.table, Key=trade_key(tenant_id, trade_id))
        item = response.get("Item")
        return _trade(from_item(item)) if item else None

    def put_trade(self, tenant_id: str, trade: Trade, *, version: str | None = None) -> bool:
        """Store a trade that is new, or that replaces the stored one (DESIGN section 6): its `version` (the
        report's time, fixed-width ISO; by default its executed_at) is newer and its content differs. True
        when it was written; a duplicate or an older report is a no-op.

        A claiming repository stores its claim with the trade (see `core.claims`).
        """
        version = version or iso(trade.executed_at)
        extra = {"version": version, "content": trade.content_digest(), **self.claim_attributes()}
        with storage_errors("put trade"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={**trade_item(tenant_id, trade), **to_item(extra)},
                    ConditionExpression="attribute_not_exists(pk) OR "
                    "((attribute_not_exists(#version) OR #version < :version) AND "
                    "(attribute_not_exists(#content) OR #content <> :content))",
                    ExpressionAttributeNames={"#version": "version", "#content": "content"},
                    ExpressionAttributeValues=to_item({":version": version, ":content": extra["content"]}),
                )
            except DynamoDBError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def put_trades(self, tenant_id: str, trades: Iterable[Trade]) -> None:
        """Bulk-store trades (seeds, backfills) with BatchWriteItem, 25 at a time.

        Unconditional: a trade already stored under the same id is overwritten. Ingestion, which
        must not double-write, uses `put_trade`.
        """
        unique = {trade.trade_id: trade for trade in trades}  # a batch may not name one key twice
        requests = [{"PutRequest": {"Item": trade_item(tenant_id, trade)}} for trade in unique.values()]
        with storage_errors("put trades"):
            self.batch_write(requests)

    def list(
        self,
        tenant_id: str,
        *,
        start: str,
        end: str,
        symbol: str | None,
        side: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[Trade], dict[str, Any] | None]:
        """Up to `limit` trades executed in [start, end] (fixed-width ISO strings), newest first.

        `start_key` continues a previous page; the second value is the key to continue after,
        or None on the last page. By symbol the query runs on gsi2, otherwise on gsi1; `side`
        is a filter.
        """
        if symbol is not None and not valid_symbol(symbol):
            return [], None
        index = "gsi2" if symbol is not None else "gsi1"
        partition = symbol_partition(tenant_id, symbol) if symbol is not None else trades_partition(tenant_id)
        values: dict[str, Any] = {":pk": partition, ":start": start, ":end": end + "~"}
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": f"{index}pk = :pk AND {index}sk BETWEEN :start AND :end",
            "ScanIndexForward": False,
        }
        if side is not None:
            request["FilterExpression"] = "#side = :side"
            request["ExpressionAttributeNames"] = {"#side": "side"}
            values[":side"] = side
        request["ExpressionAttributeValues"] = to_item(values)
        with storage_errors("list trades"):
            items, last_key = query_page(
                self.client.query, request, limit=limit, start_key=start_key, key_attributes=INDEX_KEYS[index]
            )
        return [_trade(from_item(item)) for item in items], last_key

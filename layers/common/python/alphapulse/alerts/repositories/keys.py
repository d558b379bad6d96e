"""The keys of the alerts domain's items (docs/data-model.md): alerts, their indexes, dedup keys and rules."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from alphapulse.alerts.models import ID_MAX_LENGTH, ID_PATTERN, AlertStatus
from alphapulse.aws.dynamodb import to_item
from alphapulse.core import keys

ALERT = "ALERT"
ACTIVE = "ACTIVE"
LAST = "LAST"
_ID = re.compile(ID_PATTERN)


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

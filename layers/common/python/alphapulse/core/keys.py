"""The rules every stored key follows. Each domain's repositories build their items' keys with these
two functions only (`key`, `tenant_key`), so no key can forget its tenant prefix, and the separator is
refused inside parts, so a crafted id can never reach into another key space.

Also the ids and names that become key parts and are shared by several domains: tenant ids, metric
names (reported in events, charted by the metrics routes, named by alert rules) and trading symbols
(of trades and of portfolio positions).
"""

from __future__ import annotations

import re

SEPARATOR = "#"
DEFAULT_TENANT = "default"
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
METRIC_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9./_-]+$"
SYMBOL_MAX_LENGTH = 32


def valid_tenant_id(tenant_id: str) -> bool:
    """True for a tenant id we accept: lower-case letters, digits and '-', at most 63 characters."""
    return bool(_TENANT_ID.match(tenant_id))


def key(*parts: str) -> str:
    """Join key parts; a part that contains the separator is a bug or an attack."""
    for part in parts:
        if SEPARATOR in part:
            raise ValueError(f"key part contains {SEPARATOR!r}")
    return SEPARATOR.join(parts)


def tenant_key(tenant_id: str, *parts: str) -> str:
    """A key inside a tenant's space: `T#<tenant>#<part>#...`."""
    if not valid_tenant_id(tenant_id):
        raise ValueError("invalid tenant id")
    return key("T", tenant_id, *parts)

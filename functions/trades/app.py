"""Trades function (DESIGN section 4). Routes are being built (issue 3)."""

from __future__ import annotations

from alphapulse.api import create_app, lambda_handler

app = create_app("AlphaPulse trades", routers=[])
handler = lambda_handler(app)

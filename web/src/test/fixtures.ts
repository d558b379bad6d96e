import type { Trade } from "../api/types";

export function trade(id: string, overrides: Partial<Trade> = {}): Trade {
  return {
    trade_id: id, symbol: "AAPL", side: "buy", quantity: 5, price: 228.1, fees: 0.57, status: "filled",
    order_type: "market", executed_at: "2026-12-01T10:00:00Z", strategy: null, ...overrides,
  };
}

import type { Alert } from "../api/types";

export function alert(id: string, overrides: Partial<Alert> = {}): Alert {
  return {
    alert_id: id, title: "Feed lag", message: "market data is 30 s late", severity: "warning", source: "feed-monitor",
    status: "firing", count: 1, first_seen: "2026-12-01T10:00:00Z", last_seen: "2026-12-01T10:00:00Z",
    created_at: "2026-12-01T10:00:00Z", acknowledged: false, ...overrides,
  };
}

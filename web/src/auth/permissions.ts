import type { Permission, User } from "../api/types";
import type { Channel } from "../realtime/connection";

export function can(user: User | null, permission: Permission): boolean {
  return !!user && user.permissions.includes(permission);
}

export type ViewName = "portfolio" | "trades" | "metrics" | "alerts" | "system";

/** The views in navigation order, each with the permission that shows it. */
export const VIEWS: { name: ViewName; label: string; permission: Permission }[] = [
  { name: "portfolio", label: "Portfolio", permission: "view_portfolio" },
  { name: "trades", label: "Trades", permission: "view_trades" },
  { name: "metrics", label: "Metrics", permission: "view_metrics" },
  { name: "alerts", label: "Alerts", permission: "view_alerts" },
  { name: "system", label: "System", permission: "view_system" },
];

const CHANNEL_PERMISSIONS: Record<Channel, Permission> = {
  metrics: "view_metrics",
  alerts: "view_alerts",
  portfolio: "view_portfolio",
  trades: "view_trades",
  system: "view_system",
};

export function visibleViews(user: User | null) {
  return VIEWS.filter((view) => can(user, view.permission));
}

/** The WebSocket channels this user may subscribe to. */
export function readableChannels(user: User | null): Channel[] {
  return (Object.keys(CHANNEL_PERMISSIONS) as Channel[]).filter((channel) => can(user, CHANNEL_PERMISSIONS[channel]));
}

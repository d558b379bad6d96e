// The API's types, from the committed OpenAPI document (`npm run api-types` regenerates schema.d.ts).
import type { components } from "./schema";

type Schemas = components["schemas"];
export type User = Schemas["UserPublic"];
export type TokenResponse = Schemas["TokenResponse"];
export type Trade = Schemas["Trade"];
export type TradePage = Schemas["Page_Trade_"];
export type Portfolio = Schemas["Portfolio"];
export type Position = Schemas["Position"];
export type HistoryPoint = Schemas["HistoryPoint"];
export type PortfolioHistory = Schemas["PortfolioHistory"];
export type MetricValue = Schemas["MetricValue"];
export type MetricSeries = Schemas["MetricSeries"];
export type Alert = Schemas["Alert"];
export type AlertPage = Schemas["Page_Alert_"];
export type AlertRule = Schemas["AlertRule"];
export type AlertRuleInput = Schemas["AlertRuleInput"];
export type SystemStatus = Schemas["SystemStatus"];

export type Permission =
  | "view_metrics"
  | "view_alerts"
  | "acknowledge_alerts"
  | "view_portfolio"
  | "view_trades"
  | "view_system"
  | "execute_trades"
  | "manage_users"
  | "view_audit_logs"
  | "manage_alert_rules";

export type Aggregation = "avg" | "min" | "max" | "sum" | "count";
export type Interval = "1m" | "5m" | "15m" | "1h" | "1d";

// The one API client: every REST call of the page goes through it. It keeps the tokens in memory only,
// refreshes the access token (rotating the refresh token) before it expires, and retries a call once
// after a 401 with a refreshed token.
import { ApiError, errorFromResponse, networkError } from "./errors";
import type {
  Aggregation,
  Alert,
  AlertPage,
  AlertRule,
  AlertRuleInput,
  Interval,
  MetricSeries,
  MetricValue,
  Portfolio,
  PortfolioHistory,
  SystemStatus,
  TokenResponse,
  TradePage,
  User,
} from "./types";

type Query = Record<string, string | number | boolean | undefined | null>;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000;

export interface TradeFilters {
  symbol?: string;
  side?: "" | "buy" | "sell";
  start_time?: string;
  end_time?: string;
}

export interface AlertFilters {
  severity?: string;
  status?: string;
  source?: string;
}

export class ApiClient {
  private accessToken: string | null = null;
  private refreshToken: string | null = null;
  private expiresAt = 0;
  private refreshTimer: unknown = null;
  private refreshing: Promise<void> | null = null;
  private listeners = new Set<(user: User | null) => void>();
  user: User | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly fetcher: typeof fetch = (...args) => globalThis.fetch(...args),
    private readonly clock: Clock = systemClock,
  ) {}

  // --- session ---

  /** Called with the user at sign-in, and with null when the session ends. */
  onSession(listener: (user: User | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** When the access token expires (epoch ms), 0 when signed out. */
  get tokenExpiresAt(): number {
    return this.expiresAt;
  }

  async login(username: string, password: string): Promise<User> {
    const body = new URLSearchParams({ username, password });
    const tokens = await this.send<TokenResponse>("POST", "/auth/token", { form: body, auth: false });
    this.adopt(tokens);
    // Permissions come from /auth/me, the server's word on what this token may do.
    this.user = await this.me();
    this.emit();
    return this.user;
  }

  async logout(): Promise<void> {
    const token = this.accessToken;
    this.clear();
    if (token) {
      await this.fetcher(`${this.baseUrl}/auth/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      }).catch(() => undefined);
    }
  }

  /** Rotates the refresh token for a new pair; concurrent callers share one request. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      const token = this.refreshToken;
      this.refreshing = (async () => {
        if (!token) throw new ApiError("Your session has ended. Please sign in again.", 401);
        try {
          this.adopt(await this.send<TokenResponse>("POST", "/auth/refresh", { json: { refresh_token: token }, auth: false }));
        } catch (error) {
          if (error instanceof ApiError && (error.status === 401 || error.status === 403)) this.clear();
          throw error;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async token(): Promise<string> {
    if (this.accessToken && this.clock.now() >= this.expiresAt - REFRESH_MARGIN_MS / 2) await this.refresh();
    if (!this.accessToken) throw new ApiError("Your session has ended. Please sign in again.", 401);
    return this.accessToken;
  }

  private adopt(tokens: TokenResponse): void {
    this.accessToken = tokens.access_token;
    this.refreshToken = tokens.refresh_token;
    this.expiresAt = this.clock.now() + tokens.expires_in * 1000;
    if (this.refreshTimer !== null) this.clock.clearTimeout(this.refreshTimer);
    const wait = Math.max(tokens.expires_in * 1000 - REFRESH_MARGIN_MS, 1000);
    this.refreshTimer = this.clock.setTimeout(() => {
      this.refreshTimer = null;
      this.refresh().catch(() => undefined); // a failure ends the session (clear) or is retried by the next call
    }, wait);
  }

  private clear(): void {
    if (this.refreshTimer !== null) this.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.accessToken = this.refreshToken = null;
    this.expiresAt = 0;
    const hadUser = this.user !== null;
    this.user = null;
    if (hadUser) this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.user);
  }

  // --- transport ---

  private async send<T>(
    method: string,
    path: string,
    options: { query?: Query; json?: unknown; form?: URLSearchParams; auth?: boolean; retried?: boolean } = {},
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`, globalThis.location?.href ?? "http://localhost/");
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { Accept: "application/json" };
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    if (options.auth !== false) headers.Authorization = `Bearer ${await this.token()}`;
    let response: Response;
    try {
      response = await this.fetcher(url.toString(), { method, headers, body });
    } catch {
      throw networkError();
    }
    if (response.status === 401 && options.auth !== false && !options.retried && this.refreshToken) {
      await this.refresh();
      return this.send<T>(method, path, { ...options, retried: true });
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const error = errorFromResponse(response.status, parsed, response.headers.get("Retry-After"));
      if (path === "/auth/token" && response.status === 401) throw new ApiError("Wrong username or password.", 401);
      if (response.status === 401 && options.auth !== false) this.clear();
      throw error;
    }
    return parsed as T;
  }

  // --- resources ---

  me = () => this.send<User>("GET", "/auth/me");
  wsTicket = () => this.send<{ ticket: string; expires_in: number }>("POST", "/auth/ws-ticket");
  portfolio = () => this.send<Portfolio>("GET", "/portfolio");
  portfolioHistory = (query: { start_time?: string; max_points?: number } = {}) =>
    this.send<PortfolioHistory>("GET", "/portfolio/history", { query });
  trades = (filters: TradeFilters, cursor?: string | null, limit = 50) =>
    this.send<TradePage>("GET", "/trades", { query: { ...filters, cursor, limit } });
  metrics = () => this.send<{ items: MetricValue[] }>("GET", "/metrics");
  metricSeries = (metric: string, query: { aggregation: Aggregation; interval: Interval; start_time?: string }) =>
    this.send<MetricSeries>("GET", `/metrics/${encodeURIComponent(metric)}`, { query });
  alerts = (filters: AlertFilters, cursor?: string | null, limit = 50) =>
    this.send<AlertPage>("GET", "/alerts", { query: { ...filters, cursor, limit } });
  acknowledgeAlert = (id: string, note?: string) =>
    this.send<Alert>("POST", `/alerts/${encodeURIComponent(id)}/acknowledge`, { json: note ? { note } : {} });
  resolveAlert = (id: string, note?: string) =>
    this.send<Alert>("POST", `/alerts/${encodeURIComponent(id)}/resolve`, { json: note ? { note } : {} });
  rules = () => this.send<{ items: AlertRule[] }>("GET", "/alerts/rules");
  createRule = (rule: AlertRuleInput) => this.send<AlertRule>("POST", "/alerts/rules", { json: rule });
  updateRule = (id: string, rule: AlertRuleInput) =>
    this.send<AlertRule>("PUT", `/alerts/rules/${encodeURIComponent(id)}`, { json: rule });
  deleteRule = (id: string) => this.send<void>("DELETE", `/alerts/rules/${encodeURIComponent(id)}`);
  system = () => this.send<SystemStatus>("GET", "/system");
}

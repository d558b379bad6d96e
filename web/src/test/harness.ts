// A scripted API behind the real ApiClient, and the real RealtimeConnection over fake sockets.
import { ApiClient } from "../api/client";
import type { User } from "../api/types";
import { RealtimeConnection } from "../realtime/connection";
import { FakeSocket, jsonResponse } from "./fakes";

export interface Request {
  method: string;
  url: URL;
  body: unknown;
  headers: Record<string, string>;
}
type Handler = (request: Request) => [number, unknown] | [number, unknown, Record<string, string>];

const PERMISSIONS: Record<User["role"], string[]> = {
  admin: ["view_metrics", "view_alerts", "acknowledge_alerts", "view_portfolio", "view_trades", "view_system",
    "execute_trades", "manage_users", "view_audit_logs", "manage_alert_rules"],
  trader: ["view_metrics", "view_alerts", "acknowledge_alerts", "view_portfolio", "view_trades", "execute_trades"],
  viewer: ["view_metrics", "view_portfolio", "view_trades"],
};

export function userOf(role: User["role"]): User {
  return { username: role, tenant_id: "default", role, permissions: PERMISSIONS[role] };
}

/** Routes are "METHOD /path" (below /api/v1); anything else answers 404. Every request is recorded. */
export function fakeFetch(routes: Record<string, Handler>, requests: Request[] = []): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    let body: unknown = init?.body;
    if (typeof body === "string") body = JSON.parse(body);
    else if (body instanceof URLSearchParams) body = Object.fromEntries(body);
    const request = { method, url, body, headers: (init?.headers ?? {}) as Record<string, string> };
    requests.push(request);
    const handler = routes[`${method} ${url.pathname.replace(/^\/api\/v1/, "")}`];
    if (!handler) return jsonResponse(404, { detail: "Not Found" });
    const [status, payload, headers] = handler(request);
    return jsonResponse(status, payload, headers);
  }) as typeof fetch;
}

export function tokens(role: User["role"], expiresIn = 900) {
  return { access_token: `access-${role}`, token_type: "bearer", expires_in: expiresIn, refresh_token: `refresh-${role}`, user: userOf(role) };
}

export function signedInApi(role: User["role"], routes: Record<string, Handler>, requests: Request[] = []) {
  const api = new ApiClient("http://test/api/v1", fakeFetch({
    "POST /auth/token": () => [200, tokens(role)],
    "GET /auth/me": () => [200, userOf(role)],
    "POST /auth/ws-ticket": () => [200, { ticket: "t", expires_in: 60 }],
    ...routes,
  }, requests));
  return api;
}

export function fakeRealtime(api: ApiClient) {
  const sockets: FakeSocket[] = [];
  const realtime = new RealtimeConnection({
    url: "ws://test",
    ticket: async () => (await api.wsTicket()).ticket,
    tokenExpiresAt: () => api.tokenExpiresAt,
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
  });
  return { realtime, sockets };
}

// Against a running local stack, only when ALPHAPULSE_LIVE_URL is set (e.g. http://127.0.0.1:3000, with the demo
// feed on): the real API client and WebSocket client sign in, go live, and resume after a drop with no gap.
//   ALPHAPULSE_LIVE_URL=http://127.0.0.1:3000 npx vitest run src/realtime/live.test.ts
// With ALPHAPULSE_LIVE_TOKEN_TTL set to the stack's ACCESS_TOKEN_TTL_SECONDS (a short one over REFRESH_MARGIN_MS, e.g. 70), it also
// checks that the socket moves to a fresh ticket before the server closes it at the token's expiry.
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import { RealtimeConnection, type Push, type SocketLike } from "./connection";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const base = env.ALPHAPULSE_LIVE_URL;
const tokenTtl = Number(env.ALPHAPULSE_LIVE_TOKEN_TTL ?? 0);

async function signIn() {
  const config = await (await fetch(`${base}/config.json`)).json();
  const api = new ApiClient(`${base}${config.apiUrl}`);
  await api.login("trader", "trader-demo-password");
  const sockets: SocketLike[] = [];
  const realtime = new RealtimeConnection({
    url: config.webSocketUrl,
    ticket: async () => (await api.wsTicket()).ticket,
    tokenExpiresAt: () => api.tokenExpiresAt,
    createSocket: (url) => {
      const socket = new WebSocket(url) as unknown as SocketLike;
      sockets.push(socket);
      return socket;
    },
  });
  return { api, realtime, sockets };
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!base)("against the local stack", () => {
  it("test_live_trader_goes_live_gets_pushes_and_resumes_without_a_gap", async () => {
    const { api, realtime, sockets } = await signIn();
    expect(api.user?.permissions).toContain("view_alerts");
    const trades: Push[] = [];
    const portfolio: Push[] = [];
    realtime.listen("trades", { push: (p) => trades.push(p), resync: () => undefined });
    realtime.listen("portfolio", { push: (p) => portfolio.push(p), resync: () => undefined });
    realtime.start(["trades", "portfolio", "alerts"]);
    await until(() => realtime.status === "live", 10_000);
    await until(() => portfolio.length > 0, 10_000); // the current state first
    await until(() => trades.length >= 2, 20_000);

    const before = trades.length;
    sockets[0].close(); // a drop, as the client sees it
    await until(() => realtime.status === "reconnecting", 5_000);
    await until(() => realtime.status === "live", 15_000);
    await until(() => trades.length >= before + 3, 30_000);
    expect(sockets.length).toBe(2);
    const seqs = trades.map((p) => p.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i)); // every seq once, in order, across the drop
    realtime.stop();
    await api.logout();
  }, 90_000);

  it.skipIf(!tokenTtl)("test_live_socket_moves_to_a_fresh_ticket_before_the_token_expires", async () => {
    const { api, realtime, sockets } = await signIn();
    const statuses: string[] = [];
    const trades: number[] = [];
    realtime.onStatus((status) => statuses.push(status));
    realtime.listen("trades", { push: (p) => trades.push(p.seq), resync: () => undefined });
    realtime.start(["trades"]);
    await until(() => realtime.status === "live", 10_000);
    const firstExpiry = api.tokenExpiresAt;
    await new Promise((resolve) => setTimeout(resolve, tokenTtl * 1000 + 10_000)); // past the first token's expiry
    expect(api.tokenExpiresAt).toBeGreaterThan(firstExpiry); // refreshed silently
    expect(sockets.length).toBeGreaterThanOrEqual(2); // moved to a second socket...
    expect(statuses).toEqual(["connecting", "live"]); // ...without ever dropping
    expect(trades.length).toBeGreaterThan(5);
    expect(trades).toEqual(trades.map((_, i) => trades[0] + i));
    realtime.stop();
    await api.logout();
  }, (tokenTtl + 60) * 1000);
});

import { beforeEach, describe, expect, it } from "vitest";
import { FakeSocket, ManualClock, flush } from "../test/fakes";
import { ROTATE_BEFORE_EXPIRY_MS, RealtimeConnection, type Push } from "./connection";

function push(channel: Push["channel"], seq: number, data: unknown = { seq }): Push {
  return { type: channel === "trades" ? "trade" : channel, channel, seq, timestamp: "2026-12-01T10:00:00Z", data };
}

describe("RealtimeConnection", () => {
  let clock: ManualClock;
  let sockets: FakeSocket[];
  let tickets: number;
  let expiresAt: number;
  let connection: RealtimeConnection;

  beforeEach(() => {
    clock = new ManualClock();
    sockets = [];
    tickets = 0;
    expiresAt = clock.time + 15 * 60_000;
    connection = new RealtimeConnection({
      url: "ws://127.0.0.1:3001",
      ticket: async () => `ticket-${++tickets}`,
      tokenExpiresAt: () => expiresAt,
      createSocket: (url) => {
        const socket = new FakeSocket(url);
        sockets.push(socket);
        return socket;
      },
      now: clock.now,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      random: () => 0.5,
    });
  });

  async function connect(channels: Push["channel"][] = ["trades", "portfolio"]): Promise<FakeSocket> {
    connection.start(channels);
    await flush();
    const socket = sockets[sockets.length - 1];
    socket.open();
    socket.receive({ type: "subscribed", channels });
    return socket;
  }

  it("test_connection_opens_with_a_fresh_ticket_and_goes_live_when_subscribed", async () => {
    const statuses: string[] = [];
    connection.onStatus((status) => statuses.push(status));
    const socket = await connect();
    expect(socket.url).toBe("ws://127.0.0.1:3001?ticket=ticket-1");
    expect(socket.sent[0]).toEqual({ action: "subscribe", channels: ["trades", "portfolio"] });
    expect(statuses).toEqual(["connecting", "live"]);
  });

  it("test_pushes_applied_in_seq_order_duplicates_dropped", async () => {
    const applied: number[] = [];
    connection.listen("trades", { push: (p) => applied.push(p.seq), resync: () => undefined });
    const socket = await connect();
    socket.receive(push("trades", 5));
    socket.receive(push("trades", 6));
    socket.receive(push("trades", 6));
    socket.receive(push("trades", 4));
    socket.receive(push("trades", 7));
    expect(applied).toEqual([5, 6, 7]);
  });

  it("test_drop_reconnects_with_backoff_and_resumes_with_since", async () => {
    const applied: number[] = [];
    const statuses: string[] = [];
    connection.listen("trades", { push: (p) => applied.push(p.seq), resync: () => undefined });
    const first = await connect();
    first.receive(push("trades", 10));
    first.receive(push("portfolio", 3));
    connection.onStatus((status) => statuses.push(status));

    first.drop();
    expect(connection.status).toBe("reconnecting");
    expect(sockets).toHaveLength(1);
    clock.advance(500); // the first backoff step (jittered between 250 and 500 ms)
    await flush();
    expect(sockets).toHaveLength(2);
    const second = sockets[1];
    expect(second.url).toContain("ticket=ticket-2"); // a ticket is single use: a fresh one
    second.open();
    expect(second.sent[0]).toEqual({ action: "subscribe", channels: ["trades", "portfolio"], since: { trades: 10, portfolio: 3 } });
    second.receive({ type: "subscribed", channels: ["trades", "portfolio"] });
    // The server replays what was missed, then goes live; a replayed push already held is not applied again.
    second.receive(push("trades", 10));
    second.receive(push("trades", 11));
    second.receive(push("trades", 12));
    expect(applied).toEqual([10, 11, 12]);
    expect(statuses).toEqual(["reconnecting", "live"]);
  });

  it("test_backoff_grows_while_the_server_is_unreachable", async () => {
    await connect();
    sockets[0].drop();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = sockets.length;
      let waited = 0;
      while (sockets.length === before && waited < 60_000) {
        clock.advance(50);
        waited += 50;
        await flush();
      }
      delays.push(waited);
      sockets[sockets.length - 1].drop(); // refused again
    }
    expect(delays[0]).toBeLessThan(delays[1]);
    expect(delays[1]).toBeLessThan(delays[2]);
    expect(delays[2]).toBeLessThan(delays[3]);
  });

  it("test_gap_in_seq_is_never_skipped_reconnects_from_last_applied", async () => {
    const applied: number[] = [];
    connection.listen("trades", { push: (p) => applied.push(p.seq), resync: () => undefined });
    const first = await connect(["trades"]);
    first.receive(push("trades", 1));
    first.receive(push("trades", 3)); // 2 is missing
    expect(applied).toEqual([1]);
    expect(first.closed).toBe(true);
    await flush();
    const second = sockets[1];
    second.open();
    expect(second.sent[0]).toMatchObject({ since: { trades: 1 } });
    second.receive({ type: "subscribed", channels: ["trades"] });
    second.receive(push("trades", 2));
    second.receive(push("trades", 3));
    expect(applied).toEqual([1, 2, 3]);
  });

  it("test_state_channel_takes_a_newer_state_across_a_gap", async () => {
    const applied: number[] = [];
    connection.listen("portfolio", { push: (p) => applied.push(p.seq), resync: () => undefined });
    const socket = await connect(["portfolio"]);
    socket.receive(push("portfolio", 4));
    socket.receive(push("portfolio", 9));
    expect(applied).toEqual([4, 9]);
    expect(sockets).toHaveLength(1);
  });

  it("test_resync_required_reloads_the_view_and_forgets_the_channel_position", async () => {
    let resyncs = 0;
    const applied: number[] = [];
    connection.listen("trades", { push: (p) => applied.push(p.seq), resync: () => resyncs++ });
    const socket = await connect(["trades"]);
    resyncs = 0; // the first subscription's own reload
    socket.receive(push("trades", 7));
    socket.receive({ type: "resync_required", channel: "trades" });
    expect(resyncs).toBe(1);
    expect(connection.lastSeq.has("trades")).toBe(false);
    socket.receive(push("trades", 90)); // after the reload, live pushes are taken from wherever they are
    expect(applied).toEqual([7, 90]);
  });

  it("test_socket_moves_to_a_fresh_ticket_before_the_token_expires", async () => {
    const applied: number[] = [];
    connection.listen("trades", { push: (p) => applied.push(p.seq), resync: () => undefined });
    const first = await connect(["trades"]);
    first.receive(push("trades", 1));
    expiresAt = clock.time + 30 * 60_000; // the client refreshed the access token meanwhile
    clock.advance(15 * 60_000 - ROTATE_BEFORE_EXPIRY_MS);
    await flush();
    expect(sockets).toHaveLength(2);
    const second = sockets[1];
    expect(second.url).toContain("ticket=ticket-2");
    second.open();
    expect(second.sent[0]).toMatchObject({ since: { trades: 1 } });
    first.receive(push("trades", 2)); // the old socket still delivers until the new one is subscribed
    second.receive({ type: "subscribed", channels: ["trades"] });
    expect(first.closed).toBe(true);
    second.receive(push("trades", 2));
    second.receive(push("trades", 3));
    expect(applied).toEqual([1, 2, 3]);
    expect(connection.status).toBe("live");
  });

  it("test_first_subscription_reloads_event_views_not_state_views_nor_resumed_ones", async () => {
    const reloads: string[] = [];
    for (const channel of ["trades", "alerts", "portfolio"] as const) {
      connection.listen(channel, { push: () => undefined, resync: () => reloads.push(channel) });
    }
    const first = await connect(["trades", "alerts", "portfolio"]);
    expect(reloads).toEqual(["trades", "alerts"]); // what happened between the REST load and the subscription
    first.receive(push("trades", 3));
    first.drop();
    clock.advance(500);
    await flush();
    sockets[1].open();
    sockets[1].receive({ type: "subscribed", channels: ["trades", "alerts", "portfolio"] });
    expect(reloads).toEqual(["trades", "alerts", "alerts"]); // trades resumed with since: no reload
  });

  it("test_stop_closes_the_socket_and_does_not_reconnect", async () => {
    const socket = await connect();
    connection.stop();
    expect(socket.closed).toBe(true);
    clock.advance(60_000);
    await flush();
    expect(sockets).toHaveLength(1);
    expect(connection.status).toBe("offline");
  });
});

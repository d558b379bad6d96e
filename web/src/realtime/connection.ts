// The page's one WebSocket: opened with a fresh ws-ticket, subscribed to the channels the role may read,
// every push applied by `seq` (never twice, never skipped), reconnected with backoff and resumed with
// `since` after a drop, and moved to a new socket before the server closes it at the token's expiry.

export type Channel = "metrics" | "alerts" | "portfolio" | "trades" | "system";
export type ConnectionStatus = "connecting" | "live" | "reconnecting" | "offline";

/** A push as the server sends it. */
export interface Push<T = unknown> {
  type: string;
  channel: Channel;
  seq: number;
  timestamp: string;
  data: T;
}

/** The part of the browser's WebSocket that the connection uses (tests pass a fake). */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface RealtimeDeps {
  /** The WebSocket API's URL (from config.json). */
  url: string;
  /** A fresh single-use ticket; refreshes the access token first when needed. */
  ticket(): Promise<string>;
  /** When the access token that the next ticket is made from expires (epoch ms). */
  tokenExpiresAt(): number;
  createSocket?(url: string): SocketLike;
  now?(): number;
  setTimeout?(callback: () => void, ms: number): unknown;
  clearTimeout?(handle: unknown): void;
  random?(): number;
}

export interface ChannelHandlers {
  push(push: Push): void;
  /** The server lost history this page needs: reload the view from REST. */
  resync(): void;
}

/** State channels send the whole state each time: a newer one replaces any older, skipped seqs are harmless. */
const STATE_CHANNELS: ReadonlySet<Channel> = new Set(["portfolio", "system"]);
/** Move to a new socket this long before the server ends the current one at the token's expiry. */
export const ROTATE_BEFORE_EXPIRY_MS = 45_000;
export const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PING_EVERY_MS = 5 * 60_000; // under API Gateway's 10-minute idle timeout

interface Live {
  socket: SocketLike;
  subscribed: boolean;
  timers: unknown[];
  /** Event channels subscribed without `since`: what happened before the subscription comes from REST. */
  fresh: Channel[];
}

export class RealtimeConnection {
  status: ConnectionStatus = "offline";
  /** The last seq applied per channel. */
  readonly lastSeq = new Map<Channel, number>();
  private readonly handlers = new Map<Channel, Set<ChannelHandlers>>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private channels: Channel[] = [];
  private current: Live | null = null;
  private retiring: Live | null = null; // the old socket during a rotation, until the new one is subscribed
  private attempt = 0;
  private reconnectTimer: unknown = null;
  private running = false;
  private generation = 0; // bumped by start and stop: an open() from an older generation gives up
  private readonly deps: Required<RealtimeDeps>;

  constructor(deps: RealtimeDeps) {
    this.deps = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      now: () => Date.now(),
      setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
      clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
      random: Math.random,
      ...deps,
    };
  }

  /** Opens the socket for these channels (the ones the role may read). */
  start(channels: Channel[]): void {
    this.channels = [...channels];
    this.running = true;
    this.generation += 1;
    this.setStatus("connecting");
    void this.open();
  }

  stop(): void {
    this.running = false;
    this.generation += 1;
    if (this.reconnectTimer !== null) this.deps.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const live of [this.current, this.retiring]) if (live) this.dispose(live);
    this.current = this.retiring = null;
    this.lastSeq.clear();
    this.setStatus("offline");
  }

  /** Registers a view for a channel's pushes; returns the function that unregisters it. */
  listen(channel: Channel, handlers: ChannelHandlers): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handlers);
    return () => set.delete(handlers);
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  private async open(): Promise<void> {
    const generation = this.generation;
    let ticket: string;
    const expiresAt = this.deps.tokenExpiresAt();
    try {
      ticket = await this.deps.ticket();
    } catch {
      if (generation === this.generation) this.scheduleReconnect();
      return;
    }
    if (!this.running || generation !== this.generation) return;
    const separator = this.deps.url.includes("?") ? "&" : "?";
    const socket = this.deps.createSocket(`${this.deps.url}${separator}ticket=${encodeURIComponent(ticket)}`);
    const live: Live = { socket, subscribed: false, timers: [], fresh: [] };
    if (this.current) this.retiring = this.current; // a rotation: the old socket keeps delivering meanwhile
    this.current = live;
    socket.onopen = () => {
      const since: Partial<Record<Channel, number>> = {};
      for (const channel of this.channels) {
        const seq = this.lastSeq.get(channel);
        if (seq !== undefined) since[channel] = seq;
        else if (!STATE_CHANNELS.has(channel)) live.fresh.push(channel);
      }
      const frame: Record<string, unknown> = { action: "subscribe", channels: this.channels };
      if (Object.keys(since).length) frame.since = since;
      socket.send(JSON.stringify(frame));
    };
    socket.onmessage = (event) => this.receive(live, event.data);
    socket.onclose = () => this.closed(live);
    socket.onerror = () => undefined; // onclose follows
    // The server ends the socket when the ticket's token expires: move to a new one before that.
    const latest = Math.max(expiresAt, this.deps.tokenExpiresAt());
    if (latest > 0) {
      const wait = Math.max(latest - this.deps.now() - ROTATE_BEFORE_EXPIRY_MS, 5_000);
      live.timers.push(this.deps.setTimeout(() => this.rotate(live), wait));
    }
    live.timers.push(this.ping(live));
  }

  private ping(live: Live): unknown {
    return this.deps.setTimeout(() => {
      if (this.current === live && live.subscribed) live.socket.send(JSON.stringify({ action: "ping" }));
      live.timers.push(this.ping(live));
    }, PING_EVERY_MS);
  }

  private rotate(live: Live): void {
    if (this.running && this.current === live && this.retiring === null) void this.open();
  }

  private receive(live: Live, raw: unknown): void {
    let message: { type?: string; channel?: Channel; seq?: number };
    try {
      message = JSON.parse(String(raw));
    } catch {
      return;
    }
    switch (message.type) {
      case "subscribed":
        if (live === this.current) {
          live.subscribed = true;
          this.attempt = 0;
          if (this.retiring) {
            this.dispose(this.retiring);
            this.retiring = null;
          }
          this.setStatus("live");
          // A view may have loaded from REST before this subscription began: it loads again, so that nothing
          // that happened in between is missing (views merge by id, so nothing shows twice).
          for (const channel of live.fresh) for (const handlers of this.handlers.get(channel) ?? []) handlers.resync();
          live.fresh = [];
        }
        return;
      case "resync_required":
        if (message.channel) {
          this.lastSeq.delete(message.channel);
          for (const handlers of this.handlers.get(message.channel) ?? []) handlers.resync();
        }
        return;
      case "pong":
      case "unsubscribed":
      case "error":
        return;
      default:
        if (message.channel && typeof message.seq === "number") this.apply(message as Push);
    }
  }

  private apply(push: Push): void {
    const last = this.lastSeq.get(push.channel);
    if (last !== undefined && push.seq <= last) return; // had it already (a replay, or the other socket)
    if (last !== undefined && push.seq > last + 1 && !STATE_CHANNELS.has(push.channel)) {
      // A push is missing: never skip it. Reconnect and resume from the last one applied.
      this.reconnectNow();
      return;
    }
    this.lastSeq.set(push.channel, push.seq);
    for (const handlers of this.handlers.get(push.channel) ?? []) handlers.push(push);
  }

  private reconnectNow(): void {
    const live = this.current;
    if (live) {
      this.dispose(live);
      this.current = null;
    }
    this.setStatus("reconnecting");
    void this.open();
  }

  private closed(live: Live): void {
    if (live === this.retiring) {
      this.dispose(live);
      this.retiring = null;
      return;
    }
    if (live !== this.current) return;
    this.dispose(live);
    this.current = null;
    if (this.retiring) {
      this.dispose(this.retiring);
      this.retiring = null;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.setStatus("reconnecting");
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base / 2 + (base / 2) * this.deps.random(); // jittered: tabs do not come back all at once
    if (this.reconnectTimer !== null) this.deps.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.deps.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.running) void this.open();
    }, delay);
  }

  private dispose(live: Live): void {
    for (const timer of live.timers) this.deps.clearTimeout(timer);
    live.timers = [];
    live.socket.onclose = live.socket.onmessage = live.socket.onopen = null;
    try {
      live.socket.close(1000, "done");
    } catch {
      // already closed
    }
  }
}

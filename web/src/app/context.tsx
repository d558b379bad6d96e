import { createContext, useContext, useEffect, useRef, useState } from "react";
import type { ApiClient } from "../api/client";
import type { User } from "../api/types";
import type { Channel, ConnectionStatus, Push, RealtimeConnection } from "../realtime/connection";

export interface Services {
  api: ApiClient;
  realtime: RealtimeConnection;
  user: User;
  notify(toast: { kind: "error" | "critical" | "info"; text: string }): void;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices outside the signed-in app");
  return services;
}

/** Calls `onPush` for each push of the channel (in seq order) and `onResync` when the view must reload. */
export function useChannel<T>(channel: Channel, onPush: (push: Push<T>) => void, onResync: () => void): void {
  const { realtime } = useServices();
  const latest = useRef({ onPush, onResync });
  latest.current = { onPush, onResync };
  useEffect(
    () =>
      realtime.listen(channel, {
        push: (push) => latest.current.onPush(push as Push<T>),
        resync: () => latest.current.onResync(),
      }),
    [realtime, channel],
  );
}

export function useConnectionStatus(realtime: RealtimeConnection): ConnectionStatus {
  const [status, setStatus] = useState(realtime.status);
  useEffect(() => {
    setStatus(realtime.status);
    return realtime.onStatus(setStatus);
  }, [realtime]);
  return status;
}

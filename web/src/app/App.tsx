import { useEffect, useMemo, useState } from "react";
import { ApiClient } from "../api/client";
import type { User } from "../api/types";
import { LoginPage } from "../auth/LoginPage";
import { RealtimeConnection, type SocketLike } from "../realtime/connection";
import type { AppConfig } from "./config";
import { Dashboard } from "./Dashboard";

export function App({ config, api: given, createSocket }: { config: AppConfig; api?: ApiClient; createSocket?: (url: string) => SocketLike }) {
  const api = useMemo(() => given ?? new ApiClient(config.apiUrl), [given, config.apiUrl]);
  const [user, setUser] = useState<User | null>(api.user);
  useEffect(() => api.onSession(setUser), [api]);
  const realtime = useMemo(
    () =>
      new RealtimeConnection({
        url: config.webSocketUrl,
        ticket: async () => (await api.wsTicket()).ticket,
        tokenExpiresAt: () => api.tokenExpiresAt,
        ...(createSocket ? { createSocket } : {}),
      }),
    // a new connection per sign-in: nothing of the last session's positions carries over
    [api, config.webSocketUrl, createSocket, user],
  );
  if (!user) return <LoginPage api={api} />;
  return <Dashboard api={api} realtime={realtime} user={user} />;
}

// The signed-in page: navigation by role, the connection indicator, the views and the toasts.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { ApiClient } from "../api/client";
import type { Alert, User } from "../api/types";
import { readableChannels, visibleViews, type ViewName } from "../auth/permissions";
import { Toasts, type Toast } from "../components/Toasts";
import { AlertsView } from "../features/alerts/AlertsView";
import { MetricsView } from "../features/metrics/MetricsView";
import { PortfolioView } from "../features/portfolio/PortfolioView";
import { SystemView } from "../features/system/SystemView";
import { TradesView } from "../features/trades/TradesView";
import type { RealtimeConnection } from "../realtime/connection";
import { ServicesContext, useConnectionStatus, type Services } from "./context";
import { useRoute } from "./useRoute";

const VIEW_COMPONENTS: Record<ViewName, () => React.JSX.Element> = {
  portfolio: PortfolioView,
  trades: TradesView,
  metrics: MetricsView,
  alerts: AlertsView,
  system: SystemView,
};

const TOAST_MS = 8000;

export function Dashboard({ api, realtime, user }: { api: ApiClient; realtime: RealtimeConnection; user: User }) {
  const views = visibleViews(user);
  const [route, navigate] = useRoute();
  const active = views.find((view) => view.name === route) ?? views[0];
  const status = useConnectionStatus(realtime);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextToast = useRef(1);

  const notify = useCallback((toast: Omit<Toast, "id">) => {
    const id = nextToast.current++;
    setToasts((current) => [...current.slice(-4), { ...toast, id }]);
    setTimeout(() => setToasts((current) => current.filter((t) => t.id !== id)), TOAST_MS);
  }, []);

  const services: Services = useMemo(() => ({ api, realtime, user, notify }), [api, realtime, user, notify]);

  useEffect(() => {
    realtime.start(readableChannels(user));
    return () => realtime.stop();
  }, [realtime, user]);

  // A new critical or error alert is shown as a toast, whatever view is open.
  useEffect(
    () =>
      realtime.listen("alerts", {
        push: (push) => {
          const alert = push.data as Alert;
          if (push.type === "alert" && (alert.severity === "critical" || alert.severity === "error") && alert.count <= 1) {
            notify({ kind: alert.severity, text: `${alert.severity === "critical" ? "Critical" : "Error"}: ${alert.title}` });
          }
        },
        resync: () => undefined,
      }),
    [realtime, notify],
  );

  const View = active ? VIEW_COMPONENTS[active.name] : null;

  return (
    <ServicesContext.Provider value={services}>
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault(); // the hash is the route: focus the content instead of navigating
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">AlphaPulse</span>
        <nav aria-label="Views">
          <ul>
            {views.map((view) => (
              <li key={view.name}>
                <a
                  href={`#/${view.name}`}
                  data-testid={`nav-${view.name}`}
                  aria-current={view.name === active?.name ? "page" : undefined}
                  onClick={(event) => {
                    event.preventDefault();
                    navigate(view.name);
                  }}
                >
                  {view.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="session">
          <span className={`connection connection-${status}`} aria-live="polite">
            <span className="dot" aria-hidden="true" />
            <span className="visually-hidden">Connection: </span>
            <span data-testid="connection-status">{status}</span>
          </span>
          <span className="user">
            {user.username} <small>({user.role})</small>
          </span>
          <a className="docs-link" href={`${api.baseUrl}/docs`} target="_blank" rel="noreferrer">
            API docs
          </a>
          <button type="button" data-testid="logout" onClick={() => void api.logout()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {View ? <View key={active?.name} /> : <p>Your role has no view in this dashboard.</p>}
      </main>
      <Toasts toasts={toasts} dismiss={(id) => setToasts((current) => current.filter((t) => t.id !== id))} />
    </ServicesContext.Provider>
  );
}

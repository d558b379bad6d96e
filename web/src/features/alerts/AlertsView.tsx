import { useCallback, useEffect, useRef, useState } from "react";
import type { AlertFilters } from "../../api/client";
import { ApiError } from "../../api/errors";
import type { Alert } from "../../api/types";
import { can } from "../../auth/permissions";
import { useChannel, useServices } from "../../app/context";
import { Choice } from "../../components/Choice";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatTime } from "../../components/format";
import { RulesEditor } from "./RulesEditor";

const SEVERITIES = ["critical", "error", "warning", "info"] as const;
const STATUSES = ["firing", "acknowledged", "resolved"] as const;

export function alertMatches(alert: Alert, filters: AlertFilters): boolean {
  if (filters.severity && alert.severity !== filters.severity) return false;
  if (filters.status && alert.status !== filters.status) return false;
  if (filters.source && alert.source !== filters.source) return false;
  return true;
}

function newestFirst(alerts: Alert[]): Alert[] {
  return [...alerts].sort((a, b) => (a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : 0));
}

export function AlertsView() {
  const { api, user } = useServices();
  const [filters, setFilters] = useState<AlertFilters>({});
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null); // loading the list
  const [actionError, setActionError] = useState<unknown>(null); // acknowledging or resolving
  const generation = useRef(0);
  const mayAct = can(user, "acknowledge_alerts");

  const load = useCallback(
    async (applied: AlertFilters) => {
      const mine = ++generation.current;
      try {
        const page = await api.alerts(applied);
        if (mine !== generation.current) return;
        setAlerts(page.items);
        setCursor(page.next_cursor ?? null);
        setError(null);
      } catch (caught) {
        if (mine === generation.current) setError(caught);
      }
    },
    [api],
  );

  useEffect(() => void load(filters), [load, filters]);

  const upsert = (alert: Alert) =>
    setAlerts((current) => {
      const others = current.filter((a) => a.alert_id !== alert.alert_id);
      return alertMatches(alert, filters) ? newestFirst([alert, ...others]) : others;
    });

  useChannel<Alert>("alerts", (push) => upsert(push.data), () => void load(filters));

  const act = async (alert: Alert, action: "acknowledge" | "resolve") => {
    setBusy(alert.alert_id);
    try {
      const note = notes[alert.alert_id]?.trim() || undefined;
      const updated = action === "acknowledge" ? await api.acknowledgeAlert(alert.alert_id, note) : await api.resolveAlert(alert.alert_id, note);
      upsert(updated);
      setNotes((current) => ({ ...current, [alert.alert_id]: "" }));
      setActionError(null);
    } catch (caught) {
      setActionError(caught);
      if (caught instanceof ApiError && (caught.status === 409 || caught.status === 404)) void load(filters);
    } finally {
      setBusy(null);
    }
  };

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await api.alerts(filters, cursor);
      setAlerts((current) => {
        const known = new Set(current.map((a) => a.alert_id));
        return [...current, ...page.items.filter((a) => !known.has(a.alert_id))];
      });
      setCursor(page.next_cursor ?? null);
    } catch (caught) {
      setError(caught);
    }
  };

  const setFilter = (name: keyof AlertFilters, value: string) => setFilters({ ...filters, [name]: value || undefined });

  return (
    <section aria-labelledby="alerts-heading">
      <h1 id="alerts-heading">Alerts</h1>
      <form className="filters" aria-label="Alert filters" onSubmit={(e) => e.preventDefault()}>
        <Choice
          label="Severity"
          any="Any"
          value={filters.severity ?? ""}
          options={SEVERITIES}
          onChange={(value) => setFilter("severity", value)}
        />
        <Choice
          label="Status"
          any="Any"
          value={filters.status ?? ""}
          options={STATUSES}
          onChange={(value) => setFilter("status", value)}
        />
        <label>
          Source
          <input value={filters.source ?? ""} onChange={(e) => setFilter("source", e.target.value.trim())} />
        </label>
      </form>
      <ErrorMessage error={error} />
      <ErrorMessage error={actionError} />
      <div className="table-scroll">
        <table data-testid="alerts-table">
          <caption className="visually-hidden">Alerts, most recent first</caption>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Alert</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">Count</th>
              <th scope="col">Last seen</th>
              {mayAct && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {alerts.length === 0 && (
              <tr>
                <td colSpan={mayAct ? 6 : 5}>No alerts match these filters.</td>
              </tr>
            )}
            {alerts.map((alert) => (
              <tr key={alert.alert_id} data-alert-id={alert.alert_id} data-status={alert.status}>
                <td>
                  <span className={`badge severity-${alert.severity}`}>{alert.severity}</span>
                </td>
                <td>
                  <strong>{alert.title}</strong>
                  <div className="muted">{alert.message}</div>
                  <div className="muted">
                    {alert.source}
                    {alert.ack_note ? ` · note: ${alert.ack_note}` : ""}
                    {alert.acknowledged_by ? ` · acknowledged by ${alert.acknowledged_by}` : ""}
                  </div>
                </td>
                <td>
                  <span className={`badge status-${alert.status}`}>{alert.status}</span>
                </td>
                <td className="num">{alert.count}</td>
                <td>
                  <time dateTime={alert.last_seen}>{formatTime(alert.last_seen)}</time>
                </td>
                {mayAct && (
                  <td>
                    {alert.status !== "resolved" && (
                      <div className="alert-actions">
                        <label className="visually-hidden" htmlFor={`note-${alert.alert_id}`}>
                          Note for {alert.title}
                        </label>
                        <input
                          id={`note-${alert.alert_id}`}
                          placeholder="Note (optional)"
                          value={notes[alert.alert_id] ?? ""}
                          onChange={(e) => setNotes({ ...notes, [alert.alert_id]: e.target.value })}
                        />
                        {alert.status === "firing" && (
                          <button
                            type="button"
                            data-testid={`ack-${alert.alert_id}`}
                            disabled={busy === alert.alert_id}
                            onClick={() => act(alert, "acknowledge")}
                          >
                            Acknowledge
                          </button>
                        )}
                        <button
                          type="button"
                          data-testid={`resolve-${alert.alert_id}`}
                          disabled={busy === alert.alert_id}
                          onClick={() => act(alert, "resolve")}
                        >
                          Resolve
                        </button>
                      </div>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" onClick={more}>
          Load more
        </button>
      )}
      {can(user, "manage_alert_rules") && <RulesEditor />}
    </section>
  );
}

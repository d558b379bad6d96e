import { useCallback, useEffect, useState } from "react";
import type { SystemStatus } from "../../api/types";
import { useChannel, useServices } from "../../app/context";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatNumber, formatTime } from "../../components/format";

type TradingSystem = NonNullable<SystemStatus["trading_system"]>;

function Gauge({ label, percent, detail }: { label: string; percent: number; detail: string }) {
  const level = percent >= 90 ? "down" : percent >= 75 ? "warn" : "up";
  return (
    <div className="card gauge">
      <h3>{label}</h3>
      <meter min={0} max={100} low={75} high={90} optimum={0} value={percent} aria-label={`${label} usage`} />
      <p className={level}>
        <strong>{percent.toFixed(1)} %</strong> <span className="muted">{detail}</span>
      </p>
    </div>
  );
}

export function SystemView() {
  const { api } = useServices();
  const [status, setStatus] = useState<SystemStatus | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await api.system());
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [api]);
  useEffect(() => void load(), [load]);

  useChannel<TradingSystem | null>(
    "system",
    (push) => setStatus((current) => (current ? { ...current, trading_system: push.data } : current)),
    () => void load(),
  );

  const trading = status?.trading_system;
  const components = status?.components;
  return (
    <section aria-labelledby="system-heading">
      <h1 id="system-heading">System</h1>
      <ErrorMessage error={error} />
      {status && components && (
        <>
          <p>
            Overall: <span className={`badge health-${status.status}`} data-testid="system-status">{status.status}</span>
          </p>
          <h2>Components</h2>
          <div className="table-scroll">
            <table data-testid="components-table">
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">Status</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <th scope="row">Database</th>
                  <td><span className={`badge health-${components.database.status}`}>{components.database.status}</span></td>
                  <td>{formatNumber(components.database.latency_ms)} ms</td>
                </tr>
                <tr>
                  <th scope="row">Event feed</th>
                  <td><span className={`badge health-${components.event_feed.status}`}>{components.event_feed.status}</span></td>
                  <td>
                    last event {formatTime(components.event_feed.last_event_at)}
                    {components.event_feed.lag_seconds != null && `, ${formatNumber(components.event_feed.lag_seconds)} s ago`}
                  </td>
                </tr>
                <tr>
                  <th scope="row">WebSocket</th>
                  <td>–</td>
                  <td>{components.websocket.connections} {components.websocket.connections === 1 ? "connection" : "connections"}</td>
                </tr>
              </tbody>
            </table>
          </div>
          <h2>Trading system</h2>
          {!trading && <p>The trading system has not reported yet.</p>}
          {trading && (
            <>
              <div className="cards">
                <Gauge label="CPU" percent={trading.cpu.usage_percent} detail={`${trading.cpu.cores} cores`} />
                <Gauge
                  label="Memory"
                  percent={trading.memory.percent}
                  detail={`${formatNumber(trading.memory.used_mb)} of ${formatNumber(trading.memory.total_mb)} MB`}
                />
                <Gauge
                  label="Disk"
                  percent={trading.disk.percent}
                  detail={`${formatNumber(trading.disk.used_gb)} of ${formatNumber(trading.disk.total_gb)} GB`}
                />
              </div>
              <p className="muted">
                Process {trading.process.pid}: {formatNumber(trading.process.memory_mb)} MB, {trading.process.threads} threads,
                up {Math.round(trading.process.uptime_seconds / 60)} min. Reported {formatTime(trading.reported_at)}.
              </p>
            </>
          )}
        </>
      )}
    </section>
  );
}

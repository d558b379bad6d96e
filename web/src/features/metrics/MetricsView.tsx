import { useCallback, useEffect, useState } from "react";
import type { Aggregation, Interval, MetricSeries, MetricValue } from "../../api/types";
import { useChannel, useServices } from "../../app/context";
import { Choice } from "../../components/Choice";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatNumber, formatTime } from "../../components/format";
import { LineChart } from "../../components/LineChart";

const AGGREGATIONS: Aggregation[] = ["avg", "min", "max", "sum", "count"];
const INTERVALS: Interval[] = ["1m", "5m", "15m", "1h", "1d"];
const WINDOW_HOURS: Record<Interval, number> = { "1m": 2, "5m": 12, "15m": 24, "1h": 24, "1d": 24 * 30 };

interface MetricsPush {
  timestamp: string;
  labels?: Record<string, string>;
  metrics: Record<string, number>;
}

function MetricChart({ metric, latest }: { metric: string; latest?: MetricValue }) {
  const { api } = useServices();
  const [aggregation, setAggregation] = useState<Aggregation>("avg");
  const [interval, setBucket] = useState<Interval>("15m");
  const [series, setSeries] = useState<MetricSeries | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let current = true;
    const start = new Date(Date.now() - WINDOW_HOURS[interval] * 3_600_000).toISOString();
    api
      .metricSeries(metric, { aggregation, interval, start_time: start })
      .then((loaded) => current && (setSeries(loaded), setError(null)))
      .catch((caught) => current && setError(caught));
    return () => {
      current = false;
    };
  }, [api, metric, aggregation, interval]);

  const id = `metric-${metric}`;
  return (
    <article className="metric card" aria-labelledby={id} data-metric={metric}>
      <header>
        <h2 id={id}>{metric.replace(/_/g, " ")}</h2>
        <p className="latest" aria-label={`Latest ${metric}`} data-testid={`metric-latest-${metric}`}>
          {formatNumber(latest?.value)}
          <small>{latest ? ` at ${formatTime(latest.timestamp)}` : ""}</small>
        </p>
      </header>
      <div className="filters compact">
        <Choice
          label="Aggregation"
          value={aggregation}
          options={AGGREGATIONS}
          onChange={(value) => value && setAggregation(value)}
        />
        <Choice label="Interval" value={interval} options={INTERVALS} onChange={(value) => value && setBucket(value)} />
      </div>
      <ErrorMessage error={error} />
      <LineChart
        height={180}
        label={`${metric}, ${aggregation} per ${interval}`}
        points={(series?.points ?? []).map((p) => ({ time: p.timestamp, value: p.value }))}
      />
    </article>
  );
}

export function MetricsView() {
  const { api } = useServices();
  const [latest, setLatest] = useState<Record<string, MetricValue>>({});
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      const { items } = await api.metrics();
      setLatest(Object.fromEntries(items.map((item) => [item.metric, item])));
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [api]);
  useEffect(() => void load(), [load]);

  useChannel<MetricsPush>(
    "metrics",
    (push) =>
      setLatest((current) => {
        const next = { ...current };
        for (const [metric, value] of Object.entries(push.data.metrics ?? {})) {
          next[metric] = { metric, value, timestamp: push.data.timestamp, labels: push.data.labels ?? {} };
        }
        return next;
      }),
    () => void load(),
  );

  const names = Object.keys(latest).sort();
  return (
    <section aria-labelledby="metrics-heading">
      <h1 id="metrics-heading">Metrics</h1>
      <ErrorMessage error={error} />
      {names.length === 0 && !error && <p>No metrics reported yet.</p>}
      <div className="metric-grid">
        {names.map((name) => (
          <MetricChart key={name} metric={name} latest={latest[name]} />
        ))}
      </div>
    </section>
  );
}

// A time-series chart on lightweight-charts, loaded on first use so that it stays out of the initial bundle.
import { useEffect, useRef } from "react";
import type { IChartApi, ISeriesApi, UTCTimestamp } from "lightweight-charts";

export interface ChartPoint {
  time: string; // ISO 8601
  value: number;
}

function toSeries(points: ChartPoint[]) {
  const byTime = new Map<number, number>();
  for (const point of points) {
    const seconds = Math.floor(Date.parse(point.time) / 1000);
    if (Number.isFinite(seconds) && Number.isFinite(point.value)) byTime.set(seconds, point.value);
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time: time as UTCTimestamp, value }));
}

export function LineChart({ points, label, height = 260 }: { points: ChartPoint[]; label: string; height?: number }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<{ api: IChartApi; series: ISeriesApi<"Area"> } | null>(null);
  const data = useRef(points);
  data.current = points;

  useEffect(() => {
    let disposed = false;
    import("lightweight-charts")
      .then(({ createChart, AreaSeries, ColorType }) => {
        const element = container.current;
        if (disposed || !element) return;
        const api = createChart(element, {
          height,
          autoSize: true,
          layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: "#9aa4b2" },
          grid: { vertLines: { color: "#26303d" }, horzLines: { color: "#26303d" } },
          timeScale: { timeVisible: true, secondsVisible: false },
        });
        const series = api.addSeries(AreaSeries, {
          lineColor: "#4f9dff",
          topColor: "rgba(79,157,255,0.35)",
          bottomColor: "rgba(79,157,255,0.02)",
          lineWidth: 2,
        });
        series.setData(toSeries(data.current));
        api.timeScale().fitContent();
        chart.current = { api, series };
      })
      .catch(() => undefined); // no canvas (tests): the table beside the chart still shows the figures
    return () => {
      disposed = true;
      chart.current?.api.remove();
      chart.current = null;
    };
  }, [height]);

  useEffect(() => {
    if (!chart.current) return;
    chart.current.series.setData(toSeries(points));
  }, [points]);

  return <div className="chart" ref={container} role="img" aria-label={label} style={{ height }} />;
}

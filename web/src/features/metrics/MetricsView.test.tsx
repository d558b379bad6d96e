import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderView } from "../../test/render";
import { MetricsView } from "./MetricsView";

describe("MetricsView", () => {
  it("test_latest_values_follow_metrics_pushes_and_choices_go_to_the_api", async () => {
    const { push, requests } = await renderView(<MetricsView />, "viewer", {
      "GET /metrics": () => [200, { items: [{ metric: "sharpe_ratio", value: 1.2, timestamp: "2026-12-01T10:00:00Z", labels: {} }] }],
      "GET /metrics/sharpe_ratio": (request) => [200, { metric: "sharpe_ratio", aggregation: request.url.searchParams.get("aggregation"), interval: request.url.searchParams.get("interval"), points: [] }],
    });
    await waitFor(() => expect(screen.getByTestId("metric-latest-sharpe_ratio").textContent).toMatch(/^1\.2/));
    push({ type: "metrics", channel: "metrics", seq: 1, timestamp: "2026-12-01T10:01:00Z", data: { timestamp: "2026-12-01T10:01:00Z", labels: {}, metrics: { sharpe_ratio: 0.4, fill_rate: 0.97 } } });
    expect(screen.getByTestId("metric-latest-sharpe_ratio").textContent).toMatch(/^0\.4/);
    expect(screen.getByTestId("metric-latest-fill_rate").textContent).toMatch(/^0\.97/);
    const user = userEvent.setup();
    const card = screen.getByTestId("metric-latest-sharpe_ratio").closest("article")!;
    await user.selectOptions(card.querySelector("select")!, "max");
    await waitFor(() => {
      const last = requests.filter((r) => r.url.pathname.endsWith("/metrics/sharpe_ratio")).at(-1)!;
      expect(Object.fromEntries(last.url.searchParams)).toMatchObject({ aggregation: "max", interval: "15m" });
    });
  });
});

import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderView } from "../../test/render";
import { SystemView } from "./SystemView";

const trading = (cpu: number) => ({
  cpu: { usage_percent: cpu, cores: 8 }, memory: { total_mb: 16000, used_mb: 8000, percent: 50 },
  disk: { total_gb: 500, used_gb: 100, percent: 20 }, process: { pid: 42, memory_mb: 300, threads: 12, uptime_seconds: 3600 },
  reported_at: "2026-12-01T10:00:00Z",
});

describe("SystemView", () => {
  it("test_components_and_resources_follow_system_pushes", async () => {
    const { push } = await renderView(<SystemView />, "admin", {
      "GET /system": () => [200, {
        status: "ok",
        components: { database: { status: "ok", latency_ms: 3 }, event_feed: { status: "ok", last_event_at: null, lag_seconds: null }, websocket: { connections: 2 } },
        trading_system: trading(12.5),
      }],
    });
    await waitFor(() => expect(screen.getByText("12.5 %")).toBeTruthy());
    expect(screen.getByTestId("system-status").textContent).toBe("ok");
    push({ type: "system", channel: "system", seq: 7, timestamp: "2026-12-01T10:01:00Z", data: trading(93) });
    expect(screen.getByText("93.0 %")).toBeTruthy();
  });
});

import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

// jsdom has no canvas: the charts are replaced by a stand-in that records their data.
vi.mock("lightweight-charts", () => {
  const series = { setData: vi.fn() };
  const chart = { addSeries: () => series, timeScale: () => ({ fitContent: vi.fn() }), remove: vi.fn() };
  return { createChart: () => chart, AreaSeries: {}, ColorType: { Solid: "solid" } };
});

afterEach(() => cleanup());

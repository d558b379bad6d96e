import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Trade } from "../../api/types";
import { renderView } from "../../test/render";
import { trade } from "../../test/fixtures";
import { TradesView } from "./TradesView";

function rowIds(): string[] {
  const table = screen.getByTestId("trades-table");
  return [...table.querySelectorAll("tbody tr[data-trade-id]")].map((row) => row.getAttribute("data-trade-id")!);
}

const tradePush = (seq: number, data: Trade) => ({ type: "trade", channel: "trades", seq, timestamp: data.executed_at, data });

describe("TradesView", () => {
  afterEach(() => vi.restoreAllMocks());

  it("test_live_trades_go_on_top_once_each", async () => {
    const { push } = await renderView(<TradesView />, "trader", {
      "GET /trades": () => [200, { items: [trade("T-2", { executed_at: "2026-12-01T10:02:00Z" }), trade("T-1")], next_cursor: null }],
    });
    expect(rowIds()).toEqual(["T-2", "T-1"]);
    push(tradePush(1, trade("T-3", { executed_at: "2026-12-01T10:03:00Z" })));
    push(tradePush(1, trade("T-3", { executed_at: "2026-12-01T10:03:00Z" }))); // the same push again: ignored
    push(tradePush(2, trade("T-2", { executed_at: "2026-12-01T10:02:00Z" }))); // already listed from REST
    expect(rowIds()).toEqual(["T-3", "T-2", "T-1"]);
  });

  it("test_filters_go_to_the_api_and_live_trades_outside_them_stay_out", async () => {
    const { push, requests } = await renderView(<TradesView />, "trader", {
      "GET /trades": (request) => [200, { items: request.url.searchParams.get("symbol") === "MSFT" ? [trade("M-1", { symbol: "MSFT" })] : [trade("T-1")], next_cursor: null }],
    });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Symbol"), "msft");
    await user.selectOptions(screen.getByLabelText("Side"), "buy");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    await waitFor(() => expect(rowIds()).toEqual(["M-1"]));
    const last = requests.filter((r) => r.url.pathname.endsWith("/trades")).at(-1)!;
    expect(Object.fromEntries(last.url.searchParams)).toMatchObject({ symbol: "MSFT", side: "buy" });
    push(tradePush(1, trade("A-9", { executed_at: "2026-12-01T11:00:00Z" })));
    push(tradePush(2, trade("M-2", { symbol: "MSFT", executed_at: "2026-12-01T11:00:00Z" })));
    expect(rowIds()).toEqual(["M-2", "M-1"]);
  });

  it("test_load_more_pages_through_the_cursor", async () => {
    await renderView(<TradesView />, "trader", {
      "GET /trades": (request) =>
        request.url.searchParams.get("cursor") === "c2" ? [200, { items: [trade("T-1")], next_cursor: null }] : [200, { items: [trade("T-2", { executed_at: "2026-12-01T10:05:00Z" })], next_cursor: "c2" }],
    });
    await userEvent.setup().click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(rowIds()).toEqual(["T-2", "T-1"]));
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });

  it("test_resync_required_reloads_from_rest", async () => {
    let calls = 0;
    const { push } = await renderView(<TradesView />, "trader", {
      "GET /trades": () => [200, { items: ++calls === 1 ? [trade("T-1")] : [trade("T-5", { executed_at: "2026-12-01T12:00:00Z" }), trade("T-1")], next_cursor: null }],
    });
    expect(rowIds()).toEqual(["T-1"]);
    push({ type: "resync_required", channel: "trades" });
    await waitFor(() => expect(rowIds()).toEqual(["T-5", "T-1"]));
  });

  it("test_csv_export_has_every_filtered_trade_across_pages", async () => {
    const blobs: Blob[] = [];
    URL.createObjectURL = vi.fn((blob: Blob) => (blobs.push(blob), "blob:trades"));
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    const { requests } = await renderView(<TradesView />, "trader", {
      "GET /trades": (request) =>
        request.url.searchParams.get("cursor") === "p2" ? [200, { items: [trade("T-1")], next_cursor: null }] : [200, { items: [trade("T-2")], next_cursor: "p2" }],
    });
    await userEvent.setup().click(screen.getByTestId("trades-export"));
    await waitFor(() => expect(click).toHaveBeenCalled());
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader(); // jsdom's Blob has no text()
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(blobs[0]);
    });
    expect(text.split("\r\n").filter(Boolean).map((line) => line.split(",")[0])).toEqual(["trade_id", "T-2", "T-1"]);
    expect(requests.filter((r) => r.url.pathname.endsWith("/trades")).at(-1)!.url.searchParams.get("limit")).toBe("500");
  });

  it("test_api_failure_is_shown_in_words", async () => {
    await renderView(<TradesView />, "trader", { "GET /trades": () => [400, { detail: "malformed cursor" }] });
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Malformed cursor.");
    await act(async () => undefined);
    expect(within(screen.getByTestId("trades-table")).queryAllByRole("row").length).toBeGreaterThan(0);
  });
});

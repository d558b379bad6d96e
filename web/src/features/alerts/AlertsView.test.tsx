import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../api/types";
import { alert } from "../../test/fixtures";
import { renderView } from "../../test/render";
import { AlertsView } from "./AlertsView";

const row = (id: string) => screen.getByTestId("alerts-table").querySelector(`tr[data-alert-id="${id}"]`);
const RULES = { "GET /alerts/rules": () => [200, { items: [], next_cursor: null }] as [number, unknown] };

describe("AlertsView", () => {
  it("test_acknowledge_with_a_note_updates_the_row", async () => {
    const { requests } = await renderView(<AlertsView />, "trader", {
      "GET /alerts": () => [200, { items: [alert("A-1")], next_cursor: null }],
      "POST /alerts/A-1/acknowledge": (request) => [200, alert("A-1", { status: "acknowledged", acknowledged: true, ack_note: (request.body as { note: string }).note, acknowledged_by: "trader" })],
    });
    const user = userEvent.setup();
    expect(row("A-1")?.getAttribute("data-status")).toBe("firing");
    await user.type(screen.getByLabelText("Note for Feed lag"), "looking into it");
    await user.click(screen.getByTestId("ack-A-1"));
    await waitFor(() => expect(row("A-1")?.getAttribute("data-status")).toBe("acknowledged"));
    expect(requests.at(-1)?.body).toEqual({ note: "looking into it" });
    expect(screen.queryByTestId("ack-A-1")).toBeNull();
    expect(screen.getByTestId("resolve-A-1")).toBeTruthy();
  });

  it("test_a_lost_race_shows_words_and_reloads", async () => {
    let listed = 0;
    await renderView(<AlertsView />, "trader", {
      "GET /alerts": () => [200, { items: [alert("A-1", ++listed > 1 ? { status: "acknowledged", acknowledged: true } : {})], next_cursor: null }],
      "POST /alerts/A-1/acknowledge": () => [409, { detail: "Alert already acknowledged" }],
    });
    await userEvent.setup().click(screen.getByTestId("ack-A-1"));
    expect((await screen.findByRole("alert")).textContent).toBe("Alert already acknowledged.");
    await waitFor(() => expect(row("A-1")?.getAttribute("data-status")).toBe("acknowledged"));
  });

  it("test_pushes_add_and_update_alerts_in_place", async () => {
    const { push } = await renderView(<AlertsView />, "trader", {
      "GET /alerts": () => [200, { items: [alert("A-1")], next_cursor: null }],
    });
    const update = (seq: number, type: string, data: Alert) => push({ type, channel: "alerts", seq, timestamp: data.last_seen, data });
    update(1, "alert", alert("A-2", { severity: "critical", last_seen: "2026-12-01T11:00:00Z" }));
    update(2, "alert_update", alert("A-1", { status: "resolved" }));
    expect(row("A-2")?.getAttribute("data-status")).toBe("firing");
    expect(row("A-1")?.getAttribute("data-status")).toBe("resolved");
    const ids = [...screen.getByTestId("alerts-table").querySelectorAll("tr[data-alert-id]")].map((r) => r.getAttribute("data-alert-id"));
    expect(ids).toEqual(["A-2", "A-1"]);
  });

  it("test_trader_may_acknowledge_but_gets_no_rules_editor", async () => {
    const { api } = await renderView(<AlertsView />, "trader", { "GET /alerts": () => [200, { items: [alert("A-1")], next_cursor: null }] });
    expect(api.user?.permissions).toContain("acknowledge_alerts");
    expect(screen.getByTestId("ack-A-1")).toBeTruthy();
    expect(screen.queryByTestId("rule-new")).toBeNull(); // the rules editor is for manage_alert_rules only
  });

  it("test_rules_editor_shows_the_apis_validation_errors_next_to_their_fields", async () => {
    await renderView(<AlertsView />, "admin", {
      "GET /alerts": () => [200, { items: [], next_cursor: null }],
      ...RULES,
      "POST /alerts/rules": () => [422, { detail: [{ loc: ["body", "condition"], msg: "Value error, condition must be an operator and a number, e.g. '> 0.1'", type: "value_error" }] }],
    });
    const user = userEvent.setup();
    await user.click(screen.getByTestId("rule-new"));
    await user.type(screen.getByLabelText("Name"), "Latency");
    await user.type(screen.getByLabelText("Metric"), "api_p95_latency");
    await user.clear(screen.getByLabelText("Condition"));
    await user.type(screen.getByLabelText("Condition"), "above 5");
    await user.click(screen.getByRole("button", { name: "Save rule" }));
    const message = await screen.findByTestId("rule-error-condition");
    expect(message.textContent).toBe("Condition must be an operator and a number, e.g. '> 0.1'.");
    expect(screen.getByLabelText("Condition").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Condition").getAttribute("aria-describedby")).toBe(message.id);
  });
});

import { act, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { alert } from "../test/fixtures";
import { flush } from "../test/fakes";
import { fakeRealtime, signedInApi, userOf } from "../test/harness";
import { Dashboard } from "./Dashboard";

describe("alert toasts", () => {
  it("test_new_critical_and_error_alerts_toast_others_do_not", async () => {
    const api = signedInApi("trader", {
      "GET /portfolio": () => [503, null],
      "GET /portfolio/history": () => [503, null],
    });
    await api.login("trader", "pw");
    const { realtime, sockets } = fakeRealtime(api);
    render(<Dashboard api={api} realtime={realtime} user={userOf("trader")} />);
    await act(flush);
    const push = (seq: number, type: string, data: ReturnType<typeof alert>) =>
      act(() => sockets[0].receive({ type, channel: "alerts", seq, timestamp: data.last_seen, data }));
    sockets[0].open();
    push(1, "alert", alert("A-1", { severity: "critical", title: "Engine down" }));
    push(2, "alert", alert("A-2", { severity: "warning", title: "Slow" }));
    push(3, "alert_update", alert("A-1", { severity: "critical", status: "acknowledged" }));
    push(4, "alert", alert("A-3", { severity: "error", title: "Fill rate low" }));
    expect(screen.getAllByTestId("toast").map((t) => t.textContent?.replace("×", ""))).toEqual([
      "Critical: Engine down",
      "Error: Fill rate low",
    ]);
    // The portfolio view's failure is in words.
    expect((await screen.findByRole("alert")).textContent).toBe("The service is unavailable right now. Please try again shortly.");
  });
});

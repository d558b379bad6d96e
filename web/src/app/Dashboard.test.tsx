import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { FakeSocket, flush } from "../test/fakes";
import { fakeFetch, fakeRealtime, signedInApi, userOf } from "../test/harness";
import { ApiClient } from "../api/client";
import { App } from "./App";
import { Dashboard } from "./Dashboard";

const PORTFOLIO = {
  total_value: 100000, cash: 40000, positions_value: 60000, updated_at: "2026-12-01T10:00:00Z",
  positions: [{ symbol: "AAPL", quantity: 10, entry_price: 200, current_price: 228.1, value: 2281, pnl: 281, pnl_percentage: 14.05, weight: 0.0228 }],
  metrics: {},
};
const EMPTY_ROUTES = {
  "GET /portfolio": () => [200, PORTFOLIO] as [number, unknown],
  "GET /portfolio/history": () => [200, { points: [] }] as [number, unknown],
  "GET /trades": () => [200, { items: [], next_cursor: null }] as [number, unknown],
  "GET /alerts": () => [200, { items: [], next_cursor: null }] as [number, unknown],
  "GET /alerts/rules": () => [200, { items: [], next_cursor: null }] as [number, unknown],
  "GET /metrics": () => [200, { items: [] }] as [number, unknown],
};

async function dashboardFor(role: "admin" | "trader" | "viewer") {
  const api = signedInApi(role, EMPTY_ROUTES);
  await api.login(role, "pw");
  const { realtime, sockets } = fakeRealtime(api);
  render(<Dashboard api={api} realtime={realtime} user={userOf(role)} />);
  await act(flush);
  return { api, realtime, sockets };
}

describe("Dashboard", () => {
  beforeEach(() => {
    window.location.hash = "";
  });

  it("test_viewer_sees_no_alerts_or_system_navigation", async () => {
    await dashboardFor("viewer");
    expect(screen.getByTestId("nav-portfolio")).toBeTruthy();
    expect(screen.getByTestId("nav-trades")).toBeTruthy();
    expect(screen.getByTestId("nav-metrics")).toBeTruthy();
    expect(screen.queryByTestId("nav-alerts")).toBeNull();
    expect(screen.queryByTestId("nav-system")).toBeNull();
  });

  it("test_admin_sees_every_view", async () => {
    await dashboardFor("admin");
    for (const view of ["portfolio", "trades", "metrics", "alerts", "system"]) {
      expect(screen.getByTestId(`nav-${view}`)).toBeTruthy();
    }
  });

  it("test_viewer_subscribes_only_to_channels_it_may_read", async () => {
    const { sockets } = await dashboardFor("viewer");
    sockets[0].open();
    expect(sockets[0].sent[0]).toEqual({ action: "subscribe", channels: ["metrics", "portfolio", "trades"] });
  });

  it("test_viewer_typing_the_alerts_address_gets_the_first_view_instead", async () => {
    window.location.hash = "#/alerts";
    await dashboardFor("viewer");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Portfolio");
  });

  it("test_connection_status_shows_connecting_then_live_then_reconnecting", async () => {
    const { sockets } = await dashboardFor("trader");
    expect(screen.getByTestId("connection-status").textContent).toBe("connecting");
    act(() => {
      sockets[0].open();
      sockets[0].receive({ type: "subscribed", channels: ["portfolio"] });
    });
    expect(screen.getByTestId("connection-status").textContent).toBe("live");
    act(() => sockets[0].drop());
    expect(screen.getByTestId("connection-status").textContent).toBe("reconnecting");
  });

  it("test_portfolio_total_follows_portfolio_pushes", async () => {
    const { sockets } = await dashboardFor("trader");
    await waitFor(() => expect(screen.getByTestId("portfolio-total").textContent).toBe("$100,000.00"));
    act(() => {
      sockets[0].open();
      sockets[0].receive({ type: "subscribed", channels: ["portfolio"] });
      sockets[0].receive({ type: "portfolio", channel: "portfolio", seq: 4, timestamp: "2026-12-01T10:01:00Z", data: { ...PORTFOLIO, total_value: 123456.5 } });
    });
    expect(screen.getByTestId("portfolio-total").textContent).toBe("$123,456.50");
  });

  it("test_navigation_works_from_the_keyboard", async () => {
    await dashboardFor("trader");
    const user = userEvent.setup();
    screen.getByTestId("nav-trades").focus();
    await user.keyboard("{Enter}");
    await waitFor(() => expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Trades"));
  });
});

describe("App", () => {
  it("test_login_with_a_wrong_password_shows_words_not_json", async () => {
    const api = new ApiClient("http://test/api/v1", fakeFetch({ "POST /auth/token": () => [401, { detail: "Incorrect username or password" }] }));
    render(<App config={{ apiUrl: "http://test/api/v1", webSocketUrl: "ws://test" }} api={api} createSocket={(url) => new FakeSocket(url)} />);
    const user = userEvent.setup();
    await user.type(screen.getByTestId("login-username"), "trader");
    await user.type(screen.getByTestId("login-password"), "wrong");
    await user.click(screen.getByTestId("login-submit"));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Wrong username or password.");
    expect(alert.textContent).not.toContain("{");
  });

  it("test_login_then_logout_returns_to_the_form", async () => {
    const api = signedInApi("trader", { ...EMPTY_ROUTES, "POST /auth/logout": () => [204, null] });
    render(<App config={{ apiUrl: "http://test/api/v1", webSocketUrl: "ws://test" }} api={api} createSocket={(url) => new FakeSocket(url)} />);
    const user = userEvent.setup();
    await user.type(screen.getByTestId("login-username"), "trader");
    await user.type(screen.getByTestId("login-password"), "trader-demo-password");
    await user.click(screen.getByTestId("login-submit"));
    await user.click(await screen.findByTestId("logout"));
    expect(await screen.findByTestId("login-submit")).toBeTruthy();
  });
});

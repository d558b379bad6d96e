import { describe, expect, it } from "vitest";
import { ManualClock, flush } from "../test/fakes";
import { fakeFetch, tokens, userOf, type Request } from "../test/harness";
import { ApiClient, REFRESH_MARGIN_MS } from "./client";
import { ApiError } from "./errors";

describe("ApiClient", () => {
  it("test_login_keeps_tokens_in_memory_and_takes_permissions_from_me", async () => {
    const requests: Request[] = [];
    const api = new ApiClient("http://test/api/v1", fakeFetch({
      "POST /auth/token": () => [200, tokens("viewer")],
      "GET /auth/me": () => [200, userOf("viewer")],
    }, requests));
    const user = await api.login("viewer", "viewer-demo-password");
    expect(user.permissions).not.toContain("view_alerts");
    expect(requests[0].body).toEqual({ username: "viewer", password: "viewer-demo-password" });
    expect(requests[1].headers.Authorization).toBe("Bearer access-viewer");
    expect(globalThis.localStorage?.length ?? 0).toBe(0);
  });

  it("test_wrong_password_is_a_sentence", async () => {
    const api = new ApiClient("http://test/api/v1", fakeFetch({ "POST /auth/token": () => [401, { detail: "Incorrect username or password" }] }));
    await expect(api.login("trader", "nope")).rejects.toThrow("Wrong username or password.");
  });

  it("test_refresh_runs_silently_before_expiry_with_the_rotating_token", async () => {
    const clock = new ManualClock();
    const refreshed: unknown[] = [];
    let generation = 0;
    const api = new ApiClient("http://test/api/v1", fakeFetch({
      "POST /auth/token": () => [200, tokens("trader")],
      "GET /auth/me": () => [200, userOf("trader")],
      "POST /auth/refresh": (request) => {
        refreshed.push(request.body);
        generation += 1;
        return [200, { ...tokens("trader"), access_token: `access-${generation}`, refresh_token: `refresh-${generation}` }];
      },
    }), clock);
    await api.login("trader", "pw");
    clock.advance(900_000 - REFRESH_MARGIN_MS - 1);
    expect(refreshed).toHaveLength(0);
    clock.advance(1);
    await flush();
    expect(refreshed).toEqual([{ refresh_token: "refresh-trader" }]);
    expect(await api.token()).toBe("access-1");
    clock.advance(900_000 - REFRESH_MARGIN_MS);
    await flush();
    expect(refreshed).toEqual([{ refresh_token: "refresh-trader" }, { refresh_token: "refresh-1" }]);
  });

  it("test_a_401_is_retried_once_after_a_refresh", async () => {
    let calls = 0;
    const api = new ApiClient("http://test/api/v1", fakeFetch({
      "POST /auth/token": () => [200, tokens("trader")],
      "GET /auth/me": () => [200, userOf("trader")],
      "POST /auth/refresh": () => [200, { ...tokens("trader"), access_token: "fresh" }],
      "GET /portfolio": (request) => (++calls === 1 ? [401, { detail: "expired" }] : [200, { seen: request.headers.Authorization }]),
    }));
    await api.login("trader", "pw");
    expect(await api.portfolio()).toEqual({ seen: "Bearer fresh" });
  });

  it("test_a_refused_refresh_ends_the_session", async () => {
    const sessions: unknown[] = [];
    const api = new ApiClient("http://test/api/v1", fakeFetch({
      "POST /auth/token": () => [200, tokens("trader")],
      "GET /auth/me": () => [200, userOf("trader")],
      "POST /auth/refresh": () => [401, { detail: "refresh token reused" }],
    }));
    api.onSession((user) => sessions.push(user));
    await api.login("trader", "pw");
    await expect(api.refresh()).rejects.toBeInstanceOf(ApiError);
    expect(sessions).toEqual([userOf("trader"), null]);
    expect(api.user).toBeNull();
  });
});

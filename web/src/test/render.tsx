import { act, render } from "@testing-library/react";
import type { ReactElement } from "react";
import type { User } from "../api/types";
import { ServicesContext } from "../app/context";
import { flush } from "./fakes";
import { fakeRealtime, signedInApi, userOf, type Request } from "./harness";

type Routes = Parameters<typeof signedInApi>[1];

/** Renders a view signed in as `role` against scripted routes, with a live socket. */
export async function renderView(view: ReactElement, role: User["role"], routes: Routes) {
  const requests: Request[] = [];
  const api = signedInApi(role, routes, requests);
  await api.login(role, "pw");
  const { realtime, sockets } = fakeRealtime(api);
  const toasts: { kind: string; text: string }[] = [];
  realtime.start(["trades", "alerts", "portfolio", "metrics", "system"]);
  await act(flush);
  const socket = sockets[0];
  socket.open();
  socket.receive({ type: "subscribed", channels: [] });
  render(
    <ServicesContext.Provider value={{ api, realtime, user: userOf(role), notify: (t) => toasts.push(t) }}>{view}</ServicesContext.Provider>,
  );
  await act(flush);
  const push = (message: unknown) => act(() => socket.receive(message));
  return { api, realtime, socket, requests, push, toasts };
}

// Where the API and the WebSocket API are: `config.json` next to the page (written by the local stack,
// or by `make deploy` from the stack's outputs).
export interface AppConfig {
  /** The REST API's base, `/api/v1` included: relative (same origin) or absolute. */
  apiUrl: string;
  /** The WebSocket API's URL (ws:// or wss://). */
  webSocketUrl: string;
}

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<AppConfig> {
  const response = await fetcher("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as Partial<AppConfig>;
  if (!config.apiUrl || !config.webSocketUrl) throw new Error("config.json lacks apiUrl or webSocketUrl");
  return { apiUrl: config.apiUrl.replace(/\/$/, ""), webSocketUrl: config.webSocketUrl };
}

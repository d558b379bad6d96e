// Turns API and network failures into sentences for people; raw JSON never reaches the page.

/** An API call that failed: `message` is for the page, `fields` holds validation messages by field name. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
}

const GENERIC: Record<number, string> = {
  400: "The request was not understood. Reload the page and try again.",
  401: "Your session has ended. Please sign in again.",
  403: "Your role does not allow this.",
  404: "This item no longer exists.",
  409: "Someone changed this item in the meantime. It has been reloaded.",
  413: "The request is too large.",
  422: "Some fields need correcting.",
  429: "Too many requests. Please wait a moment and try again.",
  502: "The server had a problem. Please try again.",
  503: "The service is unavailable right now. Please try again shortly.",
};

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** Builds the ApiError for an HTTP error status and its (possibly non-JSON) body. */
export function errorFromResponse(status: number, body: unknown, retryAfter?: string | null): ApiError {
  const detail = typeof body === "object" && body !== null ? (body as { detail?: unknown }).detail : undefined;
  if (Array.isArray(detail)) {
    const fields: Record<string, string> = {};
    const loose: string[] = [];
    for (const item of detail as ValidationItem[]) {
      const loc = (item.loc ?? []).filter((part) => part !== "body" && part !== "query");
      const message = sentence(String(item.msg ?? "Invalid value").replace(/^Value error, /, ""));
      const field = loc.length ? String(loc[0]) : "";
      if (field && !(field in fields)) fields[field] = message;
      else if (!field) loose.push(message);
    }
    const message = loose.length ? loose.join(" ") : GENERIC[422];
    return new ApiError(message, status, fields);
  }
  let message = typeof detail === "string" && detail ? sentence(detail) : GENERIC[status] ?? `The request failed (HTTP ${status}).`;
  if (status === 429 && retryAfter) message = `Too many attempts. Try again in ${retryAfter} seconds.`;
  if (status === 403 && typeof detail === "string") message = `${GENERIC[403]} (${sentence(detail)})`;
  return new ApiError(message, status);
}

/** The failure of a request that reached no server. */
export function networkError(): ApiError {
  return new ApiError("Cannot reach the server. Check your connection; the page retries on its own.", 0);
}

/** A sentence for any thrown value. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return "Something went wrong. Please try again.";
}

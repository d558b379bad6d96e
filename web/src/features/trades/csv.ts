import type { Trade } from "../../api/types";

export const CSV_COLUMNS = [
  "trade_id",
  "executed_at",
  "symbol",
  "side",
  "quantity",
  "price",
  "fees",
  "status",
  "order_type",
  "strategy",
] as const satisfies readonly (keyof Trade)[];

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  // A cell that a spreadsheet would run as a formula is prefixed with a quote (CSV injection).
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The trades as CSV (RFC 4180, CRLF line ends), a header line first. */
export function tradesToCsv(trades: readonly Trade[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const trade of trades) lines.push(CSV_COLUMNS.map((column) => cell(trade[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** Hands the text to the browser as a file download. */
export function download(filename: string, text: string, type = "text/csv"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

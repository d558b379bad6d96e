import { useCallback, useEffect, useRef, useState } from "react";
import type { TradeFilters } from "../../api/client";
import type { Trade } from "../../api/types";
import { useChannel, useServices } from "../../app/context";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatMoney, formatNumber, formatTime } from "../../components/format";
import { download, tradesToCsv } from "./csv";

const PAGE = 50;
const EXPORT_LIMIT = 20_000;

/** datetime-local value (the user's local time) to ISO UTC, or undefined. */
function toIso(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

export function matches(trade: Trade, filters: TradeFilters): boolean {
  if (filters.symbol && trade.symbol !== filters.symbol.toUpperCase()) return false;
  if (filters.side && trade.side !== filters.side) return false;
  if (filters.start_time && trade.executed_at < filters.start_time) return false;
  if (filters.end_time && trade.executed_at > filters.end_time) return false;
  return true;
}

function newestFirst(trades: Trade[]): Trade[] {
  return [...trades].sort((a, b) => (a.executed_at < b.executed_at ? 1 : a.executed_at > b.executed_at ? -1 : 0));
}

export function TradesView() {
  const { api } = useServices();
  const [form, setForm] = useState({ symbol: "", side: "", start: "", end: "" });
  const [filters, setFilters] = useState<TradeFilters>({});
  const [trades, setTrades] = useState<Trade[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);

  const load = useCallback(
    async (applied: TradeFilters) => {
      const mine = ++generation.current;
      setLoading(true);
      try {
        const page = await api.trades(applied, null, PAGE);
        if (mine !== generation.current) return;
        setTrades(page.items);
        setCursor(page.next_cursor ?? null);
        setError(null);
      } catch (caught) {
        if (mine === generation.current) setError(caught);
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => void load(filters), [load, filters]);

  useChannel<Trade>(
    "trades",
    (push) => {
      const trade = push.data;
      if (!matches(trade, filters)) return;
      setTrades((current) => newestFirst([trade, ...current.filter((t) => t.trade_id !== trade.trade_id)]));
    },
    () => void load(filters),
  );

  const more = async () => {
    if (!cursor) return;
    setLoading(true);
    try {
      const page = await api.trades(filters, cursor, PAGE);
      setTrades((current) => {
        const known = new Set(current.map((t) => t.trade_id));
        return [...current, ...page.items.filter((t) => !known.has(t.trade_id))];
      });
      setCursor(page.next_cursor ?? null);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };

  const exportCsv = async () => {
    setExporting(true);
    try {
      const all: Trade[] = [];
      let next: string | null = null;
      do {
        const page = await api.trades(filters, next, 500);
        all.push(...page.items);
        next = page.next_cursor ?? null;
      } while (next && all.length < EXPORT_LIMIT);
      download(`trades-${new Date().toISOString().slice(0, 19).replace(/:/g, "")}.csv`, tradesToCsv(all));
      setError(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setExporting(false);
    }
  };

  const apply = (event: React.FormEvent) => {
    event.preventDefault();
    setFilters({
      symbol: form.symbol.trim().toUpperCase() || undefined,
      side: (form.side || undefined) as TradeFilters["side"],
      start_time: toIso(form.start),
      end_time: toIso(form.end),
    });
  };

  return (
    <section aria-labelledby="trades-heading">
      <h1 id="trades-heading">Trades</h1>
      <form className="filters" onSubmit={apply} aria-label="Trade filters">
        <label>
          Symbol
          <input value={form.symbol} onChange={(e) => setForm({ ...form, symbol: e.target.value })} placeholder="AAPL" />
        </label>
        <label>
          Side
          <select value={form.side} onChange={(e) => setForm({ ...form, side: e.target.value })}>
            <option value="">Any</option>
            <option value="buy">Buy</option>
            <option value="sell">Sell</option>
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" value={form.start} onChange={(e) => setForm({ ...form, start: e.target.value })} />
        </label>
        <label>
          To
          <input type="datetime-local" value={form.end} onChange={(e) => setForm({ ...form, end: e.target.value })} />
        </label>
        <div className="actions">
          <button type="submit">Apply filters</button>
          <button type="button" onClick={exportCsv} disabled={exporting} data-testid="trades-export">
            {exporting ? "Exporting…" : "Export CSV"}
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
      <div className="table-scroll">
        <table data-testid="trades-table" aria-busy={loading}>
          <caption className="visually-hidden">Trades, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Symbol</th>
              <th scope="col">Side</th>
              <th scope="col" className="num">Quantity</th>
              <th scope="col" className="num">Price</th>
              <th scope="col" className="num">Fees</th>
              <th scope="col">Status</th>
              <th scope="col">Type</th>
              <th scope="col">Strategy</th>
            </tr>
          </thead>
          <tbody>
            {!loading && trades.length === 0 && (
              <tr>
                <td colSpan={9}>No trades match these filters.</td>
              </tr>
            )}
            {trades.map((trade) => (
              <tr key={trade.trade_id} data-trade-id={trade.trade_id}>
                <td>
                  <time dateTime={trade.executed_at}>{formatTime(trade.executed_at)}</time>
                </td>
                <td>{trade.symbol}</td>
                <td className={trade.side === "buy" ? "up" : "down"}>{trade.side}</td>
                <td className="num">{formatNumber(trade.quantity)}</td>
                <td className="num">{formatMoney(trade.price)}</td>
                <td className="num">{formatMoney(trade.fees)}</td>
                <td>{trade.status.replace("_", " ")}</td>
                <td>{trade.order_type}</td>
                <td>{trade.strategy ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" onClick={more} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}

import { useCallback, useEffect, useState } from "react";
import type { HistoryPoint, Portfolio } from "../../api/types";
import { useChannel, useServices } from "../../app/context";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatMoney, formatNumber, formatPercent, formatTime } from "../../components/format";
import { LineChart } from "../../components/LineChart";

const HISTORY_DAYS = 30;

export function PortfolioView() {
  const { api } = useServices();
  const [portfolio, setPortfolio] = useState<Portfolio | null>(null);
  const [history, setHistory] = useState<HistoryPoint[]>([]);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      const start = new Date(Date.now() - HISTORY_DAYS * 86_400_000).toISOString();
      const [current, past] = await Promise.all([api.portfolio(), api.portfolioHistory({ start_time: start, max_points: 500 })]);
      setPortfolio(current);
      setHistory(past.points);
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [api]);

  useEffect(() => void load(), [load]);

  useChannel<Portfolio>(
    "portfolio",
    (push) => {
      setPortfolio(push.data);
      if (push.data.updated_at) {
        const point = {
          timestamp: push.data.updated_at,
          total_value: push.data.total_value,
          cash: push.data.cash,
          positions_value: push.data.positions_value,
        };
        setHistory((points) => (points.at(-1)?.timestamp === point.timestamp ? points : [...points, point]));
      }
    },
    () => void load(),
  );

  return (
    <section aria-labelledby="portfolio-heading">
      <h1 id="portfolio-heading">Portfolio</h1>
      <ErrorMessage error={error} />
      {portfolio && (
        <>
          <dl className="cards">
            <div className="card">
              <dt>Total value</dt>
              <dd data-testid="portfolio-total">{formatMoney(portfolio.total_value)}</dd>
            </div>
            <div className="card">
              <dt>Cash</dt>
              <dd data-testid="portfolio-cash">{formatMoney(portfolio.cash)}</dd>
            </div>
            <div className="card">
              <dt>Positions value</dt>
              <dd data-testid="portfolio-positions-value">{formatMoney(portfolio.positions_value)}</dd>
            </div>
            <div className="card">
              <dt>Updated</dt>
              <dd>{portfolio.updated_at ? formatTime(portfolio.updated_at) : "No snapshot yet"}</dd>
            </div>
          </dl>
          <h2>Value over the last {HISTORY_DAYS} days</h2>
          <LineChart
            label="Portfolio total value over time"
            points={history.map((point) => ({ time: point.timestamp, value: point.total_value }))}
          />
          <h2>Positions</h2>
          <div className="table-scroll">
            <table data-testid="positions-table">
              <thead>
                <tr>
                  <th scope="col">Symbol</th>
                  <th scope="col" className="num">Quantity</th>
                  <th scope="col" className="num">Entry</th>
                  <th scope="col" className="num">Price</th>
                  <th scope="col" className="num">Value</th>
                  <th scope="col" className="num">P&amp;L</th>
                  <th scope="col" className="num">P&amp;L %</th>
                  <th scope="col" className="num">Weight</th>
                </tr>
              </thead>
              <tbody>
                {portfolio.positions.length === 0 && (
                  <tr>
                    <td colSpan={8}>No open positions.</td>
                  </tr>
                )}
                {portfolio.positions.map((position) => (
                  <tr key={position.symbol} data-symbol={position.symbol}>
                    <th scope="row">{position.symbol}</th>
                    <td className="num">{formatNumber(position.quantity)}</td>
                    <td className="num">{formatMoney(position.entry_price)}</td>
                    <td className="num">{formatMoney(position.current_price)}</td>
                    <td className="num">{formatMoney(position.value)}</td>
                    <td className={`num ${position.pnl >= 0 ? "up" : "down"}`}>{formatMoney(position.pnl)}</td>
                    <td className={`num ${position.pnl >= 0 ? "up" : "down"}`}>{formatPercent(position.pnl_percentage)}</td>
                    <td className="num">{formatPercent(position.weight * 100, 1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

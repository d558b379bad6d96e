import { describe, expect, it } from "vitest";
import { trade } from "../../test/fixtures";
import { tradesToCsv } from "./csv";

describe("tradesToCsv", () => {
  it("test_csv_has_a_header_and_one_line_per_trade", () => {
    const csv = tradesToCsv([trade("T-1"), trade("T-2", { side: "sell", strategy: "momentum" })]);
    expect(csv.split("\r\n")).toEqual([
      "trade_id,executed_at,symbol,side,quantity,price,fees,status,order_type,strategy",
      "T-1,2026-12-01T10:00:00Z,AAPL,buy,5,228.1,0.57,filled,market,",
      "T-2,2026-12-01T10:00:00Z,AAPL,sell,5,228.1,0.57,filled,market,momentum",
      "",
    ]);
  });

  it("test_csv_quotes_commas_and_quotes_and_defuses_formulas", () => {
    const csv = tradesToCsv([trade("T-3", { strategy: 'mean "rev", v2' }), trade("T-4", { strategy: "=HYPERLINK(1)" })]);
    expect(csv).toContain('"mean ""rev"", v2"');
    expect(csv).toContain(",'=HYPERLINK(1)");
  });
});

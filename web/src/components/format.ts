const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });

export const formatMoney = (value: number | null | undefined) => (value == null ? "–" : money.format(value));
export const formatNumber = (value: number | null | undefined) => (value == null ? "–" : number.format(value));
export const formatPercent = (value: number | null | undefined, digits = 2) =>
  value == null ? "–" : `${value.toFixed(digits)} %`;
export const formatTime = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" }) : "–";

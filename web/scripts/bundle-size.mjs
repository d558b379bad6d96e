// Prints the gzipped size of the initial JavaScript (the entry chunk and every chunk it imports
// statically, from Vite's manifest) and fails the build above the budget.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 250;
const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));

const initial = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk || initial.has(chunk.file)) return;
  initial.add(chunk.file);
  for (const imported of chunk.imports ?? []) visit(imported);
};
for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);

let total = 0;
for (const file of initial) total += gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = total / 1024;
console.log(`initial JavaScript: ${kb.toFixed(1)} KB gzipped in ${initial.size} file(s) (budget ${BUDGET_KB} KB)`);
if (kb > BUDGET_KB) {
  console.error(`the initial JavaScript is over its budget of ${BUDGET_KB} KB gzipped`);
  process.exit(1);
}

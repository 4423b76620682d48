// The two worker builds side by side: the app's speed test (vision batch 1, labels) on the
// relaxed-SIMD build and on the simd128 one (forced by answering the app's relaxed-SIMD
// probe with false, as Safari does), alternated in one browser, ROUNDS times, each after a
// warm start with the extra image workers loaded (their load would compete for the cores).
// Usage: node tools/bench-worker-builds.mjs DIST_DIR MODELS_DIR FILE.gguf
//   env: ROUNDS=3 RUNS=5 LABELS=10
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
import { launchApp, loadGguf, waitForImageWorkers } from './app-driver.mjs';
const [dist, models, file] = process.argv.slice(2);
const ROUNDS = Number(process.env.ROUNDS || 3), RUNS = Number(process.env.RUNS || 5), LABELS = Number(process.env.LABELS || 10);
const { url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const ctx = await launchApp(mkdtempSync(join(tmpdir(), 'ab-')));
async function run(plain) {
  const page = await ctx.newPage();
  if (plain) await page.addInitScript(() => { WebAssembly.validate = () => false; });
  const ready = await loadGguf(page, base, file);
  const loadMs = `${await ready.getAttribute('data-load-ms')} (read, verify, parse, build, read wait: ${await ready.getAttribute('data-phases')})`;
  await waitForImageWorkers(page);
  await page.click('details.speed summary');
  await page.fill('#bench-batches', '1');
  await page.fill('#bench-labels', String(LABELS));
  await page.fill('#bench-runs', String(RUNS));
  await page.click('#bench-run');
  await page.waitForFunction(() => !document.querySelector('#bench-run')?.disabled && document.querySelector('#bench-result tbody tr'), null, { timeout: 3600000, polling: 500 });
  const rows = await page.locator('#bench-result tbody tr').evaluateAll((trs) => trs.map((t) => `${t.dataset.kind} n${t.dataset.n} med ${(1000 * Number(t.dataset.medianS)).toFixed(0)} min ${(1000 * Number(t.dataset.minS)).toFixed(0)}`));
  await page.close();
  return `load ${loadMs} ms; ${rows.join('; ')}`;
}
for (let r = 0; r < ROUNDS; r++) {
  for (const plain of [false, true]) console.log(`round ${r} ${plain ? 'simd128' : 'relaxed'}: ${await run(plain)}`);
}
await ctx.close();
process.exit(0);

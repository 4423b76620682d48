// Browser benchmark for `cargo xtask bench`: through the real app in headless Chromium,
// one model file: a cold load (download + store, fresh profile), warm starts from
// IndexedDB (page reloaded each time; median), the wasm memory after loading (it never
// shrinks: the peak), then the app's speed test in the engine worker: vision batch 1 and
// labels (RUNS runs), and a batch of B (B_RUNS runs), all after a warm-up call.
//
// Usage: node tools/bench-browser.mjs DIST_DIR MODELS_DIR FILE.gguf > result.json
//   env: RUNS=10 B=32 B_RUNS=10 LABELS=10 WARM_RUNS=5
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';

const [dist, models, file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node tools/bench-browser.mjs DIST_DIR MODELS_DIR FILE.gguf');
  process.exit(2);
}
const env = (k, d) => Number(process.env[k] || d);
const [RUNS, B, B_RUNS, LABELS, WARM_RUNS] = [env('RUNS', 10), env('B', 32), env('B_RUNS', 10), env('LABELS', 10), env('WARM_RUNS', 5)];
const log = (...a) => console.error(...a);
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

const { server, url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const profile = mkdtempSync(join(tmpdir(), 'siglens-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = context.pages()[0] ?? (await context.newPage());
const HOUR = 3_600_000;

async function load() {
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForFunction(
    () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'), null, { timeout: 120_000 });
  await page.check('#source-gguf');
  await page.fill('#model-url', `models/${file}`);
  await page.click('#load-model');
  await page.waitForSelector('#model-ready, #model-error', { timeout: HOUR });
  if (await page.locator('#model-error').count()) throw new Error(await page.locator('#model-error').textContent());
  const r = page.locator('#model-ready');
  const n = async (a) => Number(await r.getAttribute(a));
  return {
    from_cache: (await r.getAttribute('data-from-cache')) === 'true',
    ms: await n('data-load-ms'),
    file_bytes: await n('data-file-bytes'),
    weights_bytes: await n('data-model-bytes'),
    wasm_bytes: await n('data-wasm-memory'),
  };
}

async function speedTest(batches, labels, runs) {
  if (!(await page.locator('details.speed[open]').count())) await page.click('details.speed summary');
  await page.fill('#bench-batches', batches);
  await page.fill('#bench-labels', String(labels));
  await page.fill('#bench-runs', String(runs));
  await page.click('#bench-run');
  await page.waitForFunction(() => !document.querySelector('#bench-run')?.disabled
    && (document.querySelector('#bench-result tbody tr') || document.querySelector('details.speed .error')),
  null, { timeout: HOUR, polling: 1000 });
  const err = page.locator('details.speed .error');
  if (await err.count()) throw new Error(await err.textContent());
  return page.locator('#bench-result tbody tr').evaluateAll((trs) => trs.map((t) => ({
    kind: t.dataset.kind, n: Number(t.dataset.n), median_s: Number(t.dataset.medianS), min_s: Number(t.dataset.minS),
  })));
}

try {
  log(`cold load of ${file}`);
  const cold = await load();
  if (cold.from_cache) throw new Error('the fresh profile already had the model');
  const warm = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const w = await load();
    if (!w.from_cache) throw new Error('warm start did not come from IndexedDB');
    warm.push(w);
    log(`warm start ${i + 1}: ${w.ms.toFixed(0)} ms`);
  }
  log(`speed test: batch 1 and ${LABELS} labels, ${RUNS} runs`);
  const small = await speedTest('1', LABELS, RUNS);
  log(`speed test: batch ${B}, ${B_RUNS} runs`);
  const big = await speedTest(String(B), 0, B_RUNS);
  const pick = (rows, kind, n) => rows.find((r) => r.kind === kind && r.n === n);
  const out = {
    file,
    chromium: context.browser()?.version() ?? null,
    cold,
    warm_start_ms: median(warm.map((w) => w.ms)),
    warm_start_runs_ms: warm.map((w) => w.ms),
    wasm_bytes_after_warm: Math.max(...warm.map((w) => w.wasm_bytes)),
    weights_bytes: warm[0]?.weights_bytes ?? cold.weights_bytes,
    vision_b1: pick(small, 'images', 1),
    text: pick(small, 'labels', LABELS),
    vision_batch: pick(big, 'images', B),
    runs: RUNS,
    batch_runs: B_RUNS,
  };
  console.log(JSON.stringify(out));
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

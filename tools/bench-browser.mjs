// Browser benchmark for `cargo xtask bench`: through the real app in headless Chromium,
// one model file: a cold load (download + store, fresh profile), warm starts from
// IndexedDB (page reloaded each time; median), the wasm memory after loading (it never
// shrinks: the peak), then the app's speed test in the engine worker: vision batch 1 and
// labels (RUNS runs), and a batch of B in that one engine (B_RUNS runs), all after a
// warm-up call; then the app's real throughput: B fixture images dropped on the page,
// decoded and embedded by every engine it started (main + image workers), B_RUNS times.
//
// Usage: node tools/bench-browser.mjs DIST_DIR MODELS_DIR FILE.gguf > result.json
//   env: RUNS=10 B=32 B_RUNS=10 LABELS=10 WARM_RUNS=5 ONE_ENGINE=1 (0: skip the batch of B in
//   one engine, for `cargo xtask bench`'s back-to-back rounds)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
import { HOUR, dropFixtureImages, launchApp, loadGguf, waitForImageWorkers } from './app-driver.mjs';

const [dist, models, file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node tools/bench-browser.mjs DIST_DIR MODELS_DIR FILE.gguf');
  process.exit(2);
}
const env = (k, d) => Number(process.env[k] || d);
const [RUNS, B, B_RUNS, LABELS, WARM_RUNS] = [env('RUNS', 10), env('B', 32), env('B_RUNS', 10), env('LABELS', 10), env('WARM_RUNS', 5)];
const ONE_ENGINE = process.env.ONE_ENGINE !== '0';
const log = (...a) => console.error(...a);
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

const { server, url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const profile = mkdtempSync(join(tmpdir(), 'siglens-bench-'));
const context = await launchApp(profile);
const page = context.pages()[0] ?? (await context.newPage());

async function load() {
  const r = await loadGguf(page, base, file);
  const n = async (a) => Number(await r.getAttribute(a));
  return {
    from_cache: (await r.getAttribute('data-from-cache')) === 'true',
    ms: await n('data-load-ms'),
    file_bytes: await n('data-file-bytes'),
    weights_bytes: await n('data-model-bytes'),
    wasm_bytes: await n('data-wasm-memory'),
    // Not read at a warm start: the token table's chunks, read by rows as texts need them.
    left_in_cache_bytes: await n('data-left-in-cache'),
    // read, verify, parse, build, read_wait (ms): where the load time went.
    phases: (await r.getAttribute('data-phases')).split(',').map(Number),
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

const work = mkdtempSync(join(tmpdir(), 'siglens-bench-img-'));

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
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  await waitForImageWorkers(page);
  log(`speed test: batch 1 and ${LABELS} labels, ${RUNS} runs`);
  const small = await speedTest('1', LABELS, RUNS);
  let big = [];
  if (ONE_ENGINE) {
    log(`speed test: batch ${B}, ${B_RUNS} runs`);
    big = await speedTest(String(B), 0, B_RUNS);
  }
  const engines = 1 + Number((await page.locator('#image-workers').getAttribute('data-ready').catch(() => '0')) || 0);
  log(`app throughput: ${B} images dropped, ${engines} engines, ${B_RUNS} runs (+1 warm-up)`);
  await dropFixtureImages(page, work, B, 0);
  const drops = [];
  for (let r = 1; r <= B_RUNS; r++) {
    drops.push(await dropFixtureImages(page, work, B, r));
    log(`  round ${r}: ${drops.at(-1).toFixed(1)} s`);
  }
  const pick = (rows, kind, n) => rows.find((r) => r.kind === kind && r.n === n);
  const out = {
    file,
    chromium: context.browser()?.version() ?? null,
    cold,
    warm_start_ms: median(warm.map((w) => w.ms)),
    warm_start_runs_ms: warm.map((w) => w.ms),
    warm_phases_ms: Object.fromEntries(['read', 'verify', 'parse', 'build', 'read_wait'].map((k, i) => [k, median(warm.map((w) => w.phases[i]))])),
    wasm_bytes_after_warm: Math.max(...warm.map((w) => w.wasm_bytes)),
    // Resident weights of the cold load (token table included), against its peak memory.
    weights_bytes: cold.weights_bytes,
    warm_weights_bytes: warm[0]?.weights_bytes ?? null,
    warm_left_in_cache_bytes: warm[0]?.left_in_cache_bytes ?? null,
    vision_b1: pick(small, 'images', 1),
    text: pick(small, 'labels', LABELS),
    vision_batch_one_engine: pick(big, 'images', B) ?? null,
    app_batch: { n: B, engines, cores, median_s: median(drops), runs_s: drops },
    runs: RUNS,
    batch_runs: B_RUNS,
  };
  console.log(JSON.stringify(out));
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

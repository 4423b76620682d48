// Browser model loading benchmark: for each GGUF, a cold load (download + store in
// IndexedDB) in a fresh profile, then warm starts from IndexedDB (page reloaded each time),
// through the real UI in headless Chromium. Reports time to ready, the weights as held for
// compute, and the wasm memory after loading (it never shrinks, so it is the peak).
//
// Usage: node tools/bench-browser-load.mjs DIST_DIR MODELS_DIR MODEL [MODEL ...]
//   MODEL is FILE.gguf (in MODELS_DIR) or hf:NAME:DTYPE, a Hugging Face style directory
//   MODELS_DIR/NAME (config.json, model.safetensors, ...) quantized in the browser to DTYPE.
//   WARM_RUNS=5 by default.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
import { clickLoad, launchApp, openApp } from './app-driver.mjs';

const [dist, models, ...files] = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node tools/bench-browser-load.mjs DIST_DIR MODELS_DIR FILE.gguf ...');
  process.exit(2);
}
const warmRuns = Number(process.env.WARM_RUNS || 5);
const { server, url: base } = await startServer({
  dist: resolve(dist), models: resolve(models), hfRoot: resolve(models),
});
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const mb = (b) => (b / 1e6).toFixed(1);

async function load(page, file) {
  await openApp(page, base);
  if (file.startsWith('hf:')) {
    const [, name, dtype] = file.split(':');
    await page.check('#source-hf');
    await page.fill('#hf-endpoint', `${base}hf`);
    await page.fill('#hf-repo', `bench/${name}`);
    await page.selectOption('#hf-dtype', dtype);
  } else {
    await page.fill('#model-url', `models/${file}`);
  }
  const r = await clickLoad(page, 600_000);
  const n = async (a) => Number(await r.getAttribute(a));
  return {
    fromCache: (await r.getAttribute('data-from-cache')) === 'true',
    ms: await n('data-load-ms'),
    requests: await n('data-network-requests'),
    fileBytes: await n('data-file-bytes'),
    modelBytes: await n('data-model-bytes'),
    wasm: await n('data-wasm-memory'),
  };
}

const rows = [];
for (const file of files) {
  const profile = mkdtempSync(join(tmpdir(), 'siglens-bench-'));
  const context = await launchApp(profile);
  const page = context.pages()[0] ?? (await context.newPage());
  try {
    const cold = await load(page, file);
    const warm = [];
    for (let i = 0; i < warmRuns; i++) {
      const w = await load(page, file);
      if (!w.fromCache || w.requests !== 0) throw new Error(`${file}: warm start used the network`);
      warm.push(w);
    }
    const row = {
      file,
      fileMB: mb(cold.fileBytes),
      modelMB: mb(cold.modelBytes),
      coldMs: cold.ms.toFixed(0),
      coldWasmMB: mb(cold.wasm),
      coldRatio: (cold.wasm / cold.modelBytes).toFixed(2),
      warmMs: median(warm.map((w) => w.ms)).toFixed(0),
      warmWasmMB: mb(median(warm.map((w) => w.wasm))),
      warmRatio: (median(warm.map((w) => w.wasm)) / cold.modelBytes).toFixed(2),
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
server.close();
console.log('\n| file | file MB | weights held MB | cold load ms | wasm MB after cold | x weights | warm start ms (median of ' + warmRuns + ') | wasm MB after warm | x weights |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.file} | ${r.fileMB} | ${r.modelMB} | ${r.coldMs} | ${r.coldWasmMB} | ${r.coldRatio} | ${r.warmMs} | ${r.warmWasmMB} | ${r.warmRatio} |`);
}

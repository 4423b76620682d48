// Where the app's drop throughput goes: loads FILE.gguf in the real app (headless Chromium),
// waits for the image workers, drops B fixture images ROUNDS times and prints each round's
// images/s; the last round runs under the DevTools CPU profiler of the page's main thread
// and prints how busy that thread was, by function (the engines run in workers, so a busy
// main thread would be the UI taking cores from them).
//
// Usage: node tools/probe-throughput.mjs DIST_DIR MODELS_DIR FILE.gguf   (env: B=32 ROUNDS=3)
import { chromium } from 'playwright-core';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
const [dist, models, file] = process.argv.slice(2);
const B = Number(process.env.B || 32), ROUNDS = Number(process.env.ROUNDS || 3);
const { server, url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const profile = mkdtempSync(join(tmpdir(), 'probe-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
const page = context.pages()[0] ?? (await context.newPage());
await page.goto(base, { waitUntil: 'load' });
await page.waitForFunction(() => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'), null, { timeout: 120000 });
await page.check('#source-gguf');
await page.fill('#model-url', `models/${file}`);
await page.click('#load-model');
await page.waitForSelector('#model-ready', { timeout: 3600000 });
if ((await page.evaluate(() => navigator.hardwareConcurrency)) > 1 && !process.env.NOPOOL) await page.waitForSelector('#image-workers', { timeout: 3600000 });
const work = mkdtempSync(join(tmpdir(), 'probe-img-'));
const dir = resolve('tests/fixtures/images');
const pics = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
for (let round = 0; round < ROUNDS; round++) {
  const files = Array.from({ length: B }, (_, i) => { const p = join(work, `r${round}-${i}-${pics[i % pics.length]}`); copyFileSync(join(dir, pics[i % pics.length]), p); return p; });
  const done0 = await page.locator('#gallery li[data-state="embedded"]').count();
  if (round === ROUNDS - 1) await cdp.send('Profiler.start');
  const t0 = Date.now();
  await page.setInputFiles('#image-input', files);
  await page.waitForFunction((want) => document.querySelectorAll('#gallery li[data-state="embedded"]').length >= want, done0 + B, { timeout: 3600000, polling: 100 });
  const dt = (Date.now() - t0) / 1000;
  console.log(`round ${round}: ${dt.toFixed(2)} s, ${(B / dt).toFixed(2)} img/s`);
}
const { profile: prof } = await cdp.send('Profiler.stop');
const dtUs = prof.timeDeltas.reduce((a, b) => a + b, 0);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of prof.samples) counts.set(s, (counts.get(s) || 0) + 1);
let idle = 0, total = prof.samples.length; const self = new Map();
for (const [id, c] of counts) { const n = byId.get(id); const name = n.callFrame.functionName || '(anon)'; if (name === '(idle)') idle += c; self.set(name, (self.get(name) || 0) + c); }
console.log(`main thread: ${(dtUs / 1e6).toFixed(2)} s profiled, busy ${(100 * (total - idle) / total).toFixed(1)}%`);
console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([n, c]) => `${(100 * c / total).toFixed(1)}% ${n}`).join('\n'));
await context.close(); server.close();
rmSync(profile, { recursive: true, force: true });
rmSync(work, { recursive: true, force: true });

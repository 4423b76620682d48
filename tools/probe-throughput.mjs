// Where the app's drop throughput goes: loads FILE.gguf in the real app (headless Chromium),
// waits for the image workers, drops B fixture images ROUNDS times and prints each round's
// images/s; the last round runs under the DevTools CPU profiler of the page's main thread
// and prints how busy that thread was, by function (the engines run in workers, so a busy
// main thread would be the UI taking cores from them).
//
// Usage: node tools/probe-throughput.mjs DIST_DIR MODELS_DIR FILE.gguf   (env: B=32 ROUNDS=3)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
import { dropFixtureImages, launchApp, loadGguf, waitForImageWorkers } from './app-driver.mjs';

const [dist, models, file] = process.argv.slice(2);
const B = Number(process.env.B || 32), ROUNDS = Number(process.env.ROUNDS || 3);
const { server, url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const profile = mkdtempSync(join(tmpdir(), 'probe-'));
const context = await launchApp(profile);
const page = context.pages()[0] ?? (await context.newPage());
await loadGguf(page, base, file);
await waitForImageWorkers(page);
const work = mkdtempSync(join(tmpdir(), 'probe-img-'));
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
for (let round = 0; round < ROUNDS; round++) {
  if (round === ROUNDS - 1) await cdp.send('Profiler.start');
  const dt = await dropFixtureImages(page, work, B, round);
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

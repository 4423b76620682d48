// When each engine's share of a dropped batch finishes: drops B fixture images on the app
// ROUNDS times and prints, per engine's contiguous share (the main engine takes the first
// half with one image worker), when its first and last embedding arrived (ms after the
// drop). Tells engine imbalance from per-image cost (BENCHMARKS.md, "The remaining gaps").
//
// Usage: node tools/probe-engine-shares.mjs DIST_DIR MODELS_DIR FILE.gguf   (env: B=32 ROUNDS=4)
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../tests/e2e/server.mjs';
import { HOUR, launchApp, loadGguf, waitForImageWorkers } from './app-driver.mjs';

const [dist, models, file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node tools/probe-engine-shares.mjs DIST_DIR MODELS_DIR FILE.gguf');
  process.exit(2);
}
const B = Number(process.env.B || 32);
const ROUNDS = Number(process.env.ROUNDS || 4);
const { server, url: base } = await startServer({ dist: resolve(dist), models: resolve(models), hfRoot: resolve(models) });
const profile = mkdtempSync(join(tmpdir(), 'siglens-probe-'));
const work = mkdtempSync(join(tmpdir(), 'siglens-probe-img-'));
const context = await launchApp(profile);
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await loadGguf(page, base, file);
  await waitForImageWorkers(page);
  const engines = 1 + Number((await page.locator('#image-workers').getAttribute('data-ready').catch(() => '0')) || 0);
  const share = Math.ceil(B / engines);
  const dir = resolve('tests/fixtures/images');
  const pics = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  for (let round = 0; round < ROUNDS; round++) {
    const files = Array.from({ length: B }, (_, i) => {
      const p = join(work, `r${round}-${String(i).padStart(3, '0')}-${pics[i % pics.length]}`);
      copyFileSync(join(dir, pics[i % pics.length]), p);
      return p;
    });
    // The moment each gallery entry turns embedded, from the drop.
    await page.evaluate(() => {
      window.__observer?.disconnect();
      window.__arrived = {};
      const t0 = performance.now();
      window.__observer = new MutationObserver(() => {
        for (const li of document.querySelectorAll('#gallery li[data-state="embedded"]')) {
          if (!(li.dataset.name in window.__arrived)) window.__arrived[li.dataset.name] = performance.now() - t0;
        }
      });
      window.__observer.observe(document.body, { subtree: true, attributes: true, childList: true });
    });
    const before = await page.locator('#gallery li[data-state="embedded"]').count();
    await page.setInputFiles('#image-input', files);
    await page.waitForFunction((want) => document.querySelectorAll('#gallery li[data-state="embedded"]').length >= want,
      before + B, { timeout: HOUR, polling: 100 });
    const arrived = Object.entries(await page.evaluate(() => window.__arrived))
      .filter(([n]) => n.startsWith(`r${round}-`))
      .map(([n, ms]) => [Number(n.slice(n.indexOf('-') + 1, n.indexOf('-') + 4)), ms]);
    const parts = Array.from({ length: engines }, (_, e) => {
      const t = arrived.filter(([i]) => Math.floor(i / share) === e).map(([, ms]) => ms);
      const per = (Math.max(...t) - Math.min(...t)) / Math.max(1, t.length - 1);
      return `engine ${e}: ${t.length} images, first ${Math.min(...t).toFixed(0)} ms, last ${Math.max(...t).toFixed(0)} ms, ${per.toFixed(0)} ms an image between`;
    });
    console.log(`round ${round + 1}: ${parts.join('; ')}`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

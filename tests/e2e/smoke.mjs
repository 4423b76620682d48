// Browser smoke test: loads the Trunk build in headless Debian Chromium and waits for the
// status line to show the engine worker's "ready: ..." message.
// Usage: node tests/e2e/smoke.mjs http://127.0.0.1:8080/
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.argv[2];
if (!base) {
  console.error('usage: node tests/e2e/smoke.mjs BASE_URL');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'siglens-smoke-'));

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on('console', (m) => {
  console.log(`[console.${m.type()}] ${m.text()}`);
  if (m.type() === 'error') problems.push(m.text());
});
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
page.on('response', (r) => {
  if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
});
page.on('worker', (w) => console.log(`[worker] started ${w.url()}`));

let ok = false;
try {
  const t0 = Date.now();
  await page.goto(base, { waitUntil: 'load' });
  const status = page.locator('#status');
  await status.waitFor({ timeout: 30_000 });
  await page.waitForFunction(
    () => document.querySelector('#status')?.textContent?.startsWith('ready: '),
    null,
    { timeout: 60_000 },
  );
  const text = (await status.textContent()).trim();
  const title = await page.title();
  console.log(`title: ${title}`);
  console.log(`status: ${text} (${Date.now() - t0} ms)`);
  if (title !== 'siglens') throw new Error(`unexpected title ${JSON.stringify(title)}`);
  if (!/^ready: siglens-engine \d+\.\d+\.\d+/.test(text)) {
    throw new Error(`unexpected status ${JSON.stringify(text)}`);
  }
  if (problems.length) throw new Error(`browser errors:\n${problems.join('\n')}`);
  ok = true;
} catch (e) {
  console.error(`smoke test FAILED: ${e.message}`);
  const status = await page.locator('#status').textContent().catch(() => null);
  if (status !== null) console.error(`status line: ${status}`);
} finally {
  await page.screenshot({ path: join(artifacts, 'smoke.png'), fullPage: true }).catch(() => {});
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (ok) console.log('smoke test passed');
process.exit(ok ? 0 : 1);

// Offline, static hosting and privacy tests (headless Debian Chromium) against the release
// build served from a sub-path (/siglens/) by a plain static server with no special headers:
//  (a) after a first visit, the app reloads and classifies with the network off;
//  (c) a new build is picked up after a reload without mixing files of two builds, and
//      waits (with a prompt) while the page holds work;
//  (d) the Content-Security-Policy is there, refuses scripts from another origin and eval,
//      and binds the engine worker's downloads too.
// (b), every request of a full visit staying on the app's origin, is in runtime.mjs.
//
// Usage: node tests/e2e/offline.mjs DIST_DIR MODELS_DIR
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, checks } from './harness.mjs';
import { startServer } from './server.mjs';

const [dist, models] = process.argv.slice(2).map((p) => p && resolve(p));
if (!models) {
  console.error('usage: node tests/e2e/offline.mjs DIST_DIR MODELS_DIR');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const fixtures = join(root, 'tests/fixtures/images');
const artifacts = join(here, 'artifacts');
const MODEL_URL = 'models/tiny48-q8_0.gguf';
const IMAGES = ['chelsea.png', 'coffee.png', 'rocket.jpg'].map((f) => join(fixtures, f));

const site = await startServer({ dist, models, hfRoot: join(root, 'tests/fixtures/models') });
const base = site.url;

// Another origin, as an attacker's or a tracker's host would be: counts every request.
let foreignHits = 0;
const foreign = createServer((req, res) => {
  foreignHits += 1;
  res.setHeader('access-control-allow-origin', '*');
  if (req.url.startsWith('/evil.js')) {
    res.setHeader('content-type', 'text/javascript');
    return res.end('window.evilRan = true;');
  }
  res.end(readFileSync(join(models, 'tiny48-q8_0.gguf')));
});
await new Promise((r) => foreign.listen(0, '127.0.0.1', r));
const foreignOrigin = `http://localhost:${foreign.address().port}`;

const profile = mkdtempSync(join(tmpdir(), 'siglens-offline-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = context.pages()[0] ?? (await context.newPage());

const { check, failed } = checks(page, artifacts, 'offline-');

async function engineReady() {
  await page.waitForFunction(
    () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'),
    null, { timeout: 60_000 });
}
async function loadModel(url) {
  await page.check('#source-gguf');
  await page.fill('#model-url', url);
  await page.click('#load-model');
  await page.waitForSelector('#model-ready, #model-error', { timeout: 60_000 });
  const err = await page.locator('#model-error').count() ? await page.locator('#model-error').textContent() : null;
  const ready = page.locator('#model-ready');
  return err ? { error: err } : { fromCache: (await ready.getAttribute('data-from-cache')) === 'true' };
}
const offlineBuild = () => page.locator('#offline-status').getAttribute('data-build');
async function offlineReady() {
  await page.waitForSelector('#offline-status[data-state="ready"]', { timeout: 60_000 });
  return offlineBuild();
}

try {
  await check('the CSP is present, refuses other origins\' scripts and eval, and binds the engine', async () => {
    await page.goto(base, { waitUntil: 'load' });
    await engineReady();
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    const policy = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert(policy['script-src'].includes("'self'") && policy['script-src'].includes("'wasm-unsafe-eval'"), csp);
    assert(!policy['script-src'].some((v) => ["'unsafe-eval'", "'unsafe-inline'", '*'].includes(v) || /^https?:/.test(v)),
      `script-src allows too much: ${policy['script-src']}`);
    assert(policy['script-src'].some((v) => v.startsWith("'sha256-")), 'the inline start-up script is allowed by its hash');
    assert(policy['object-src'].includes("'none'") && policy['default-src'].join() === "'self'", csp);

    const injected = await page.evaluate((src) => new Promise((res) => {
      document.addEventListener('securitypolicyviolation',
        (e) => res({ directive: e.effectiveDirective, blocked: e.blockedURI }), { once: true });
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => res({ loaded: true });
      document.head.append(s);
      setTimeout(() => res({ timeout: true }), 5000);
    }), `${foreignOrigin}/evil.js`);
    assert(injected.directive?.startsWith('script-src') && !injected.loaded, `injected script: ${JSON.stringify(injected)}`);
    assert(await page.evaluate(() => window.evilRan) === undefined, 'the injected script ran');
    // Strings run as code (eval, string timers) are refused. (Playwright's own evaluate is
    // exempt, so the string goes through a timer, which the page itself runs.)
    const evalTry = await page.evaluate(() => new Promise((res) => {
      document.addEventListener('securitypolicyviolation',
        (e) => res({ directive: e.effectiveDirective, blocked: e.blockedURI }), { once: true });
      setTimeout('window.evalRan = true', 0);
      setTimeout(() => res({ ran: window.evalRan === true }), 1000);
    }));
    assert(evalTry.blocked === 'eval' && !(await page.evaluate(() => window.evalRan)), `eval: ${JSON.stringify(evalTry)}`);

    // The engine runs in a blob worker, which inherits the page's policy: a model URL on
    // another origin is refused before any byte leaves.
    const r = await loadModel(`${foreignOrigin}/model.gguf`);
    assert(r.error, 'a model from an origin outside connect-src must fail');
    assert(foreignHits === 0, `the other origin was contacted ${foreignHits} time(s)`);
    console.log(`     refused: ${injected.blocked}; model load: ${r.error.slice(0, 100)}`);
  });

  await check('offline after the first visit: reload with no network, load the cached model, classify', async () => {
    const r = await loadModel(MODEL_URL);
    assert(!r.error, r.error);
    const build = await offlineReady();
    assert(/^[0-9a-f]{16}$/.test(build), `build id ${build}`);
    await context.setOffline(true);
    site.setSite(false);
    try {
      await page.reload({ waitUntil: 'load' });
      await engineReady();
      assert(await offlineReady() === build, 'the cached build serves the page');
      const again = await loadModel(MODEL_URL);
      assert(!again.error && again.fromCache, `offline model load: ${JSON.stringify(again)}`);
      await page.setInputFiles('#image-input', IMAGES);
      await page.waitForFunction((n) => document.querySelectorAll('#gallery li[data-state="embedded"]').length === n,
        IMAGES.length, { timeout: 60_000 });
      await page.fill('#labels', 'cat\ncoffee\nrocket');
      await page.click('#classify');
      await page.waitForSelector('#matrix td');
      const cells = await page.locator('#matrix td').count();
      assert(cells === IMAGES.length * 3, `matrix has ${cells} cells`);
      await page.screenshot({ path: join(artifacts, 'offline-classify.png') });
    } finally {
      await context.setOffline(false);
      site.setSite(true);
    }
  });

  /// A copy of the build with a changed, unhashed asset (the worker script) and a marker in
  /// index.html, finished by the same hook Trunk runs (new CSP hashes, new sw.js).
  function makeBuild(n) {
    const dir = mkdtempSync(join(tmpdir(), `siglens-build${n}-`));
    cpSync(dist, dir, { recursive: true });
    for (const w of ['worker.js', 'worker-relaxed.js']) appendFileSync(join(dir, w), `\n// test build ${n}\n`);
    const index = join(dir, 'index.html');
    writeFileSync(index, readFileSync(index, 'utf8').replace('<title>', `<meta name="siglens-test-build" content="${n}" /><title>`));
    execFileSync('node', [join(root, 'tools/make-service-worker.mjs')], { env: { ...process.env, TRUNK_STAGING_DIR: dir } });
    return dir;
  }
  const testBuild = () => page.evaluate(() => document.querySelector('meta[name="siglens-test-build"]')?.content ?? '1');

  await check('a new build is picked up after a reload, never mixed with the old one', async () => {
    const build1 = await offlineReady();
    site.setDist(makeBuild(2));
    const seen = [];
    page.on('response', (r) => seen.push({ url: r.url(), build: r.headers()['x-siglens-build'] }));
    // The reload is served by build 1; the page finds build 2, has no work, lets it in and
    // reloads itself.
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('meta[name="siglens-test-build"]')?.content === '2',
      null, { timeout: 60_000 });
    await engineReady();
    const build2 = await offlineReady();
    assert(build2 !== build1, 'a new build id');
    // Every shell file of the final load came from build 2's cache.
    const lastNav = seen.map((s) => s.url).lastIndexOf(base);
    const shell = seen.slice(lastNav).filter((s) => s.url.startsWith(base) && !s.url.includes('/models/'));
    assert(shell.length >= 4 && shell.every((s) => s.build === build2),
      `files of the last load: ${JSON.stringify(shell.map((s) => [s.url.slice(base.length), s.build]))}`);
    // Chromium validates relaxed SIMD: the app runs that worker build, and only it is precached.
    assert(shell.some((s) => s.url.endsWith('worker-relaxed.js')), 'the engine worker script is among them');
    const caches = await page.evaluate(() => caches.keys());
    assert(caches.length === 1 && caches[0].endsWith(build2), `caches: ${caches}`);
    const cached = await page.evaluate(async (name) =>
      (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname.split('/').pop()), caches[0]);
    assert(cached.includes('worker-relaxed_bg.wasm') && !cached.includes('worker_bg.wasm'),
      `precached: ${cached}`);

    // With work on the page, build 3 waits and asks; nothing is reloaded under the user.
    const r = await loadModel(MODEL_URL);
    assert(!r.error, r.error);
    await page.setInputFiles('#image-input', IMAGES.slice(0, 1));
    await page.waitForSelector('#gallery li[data-state="embedded"]');
    site.setDist(makeBuild(3));
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.waitForSelector('#update-ready', { timeout: 60_000 });
    assert(await testBuild() === '2' && await page.locator('#gallery li').count() === 1, 'the page and its work stay');
    await page.click('#update-ready button');
    await page.waitForFunction(() => document.querySelector('meta[name="siglens-test-build"]')?.content === '3',
      null, { timeout: 60_000 });
    await engineReady();
    const build3 = await offlineReady();
    assert(build3 !== build2, 'build 3 serves the page');
  });

  await check('the web app manifest and its icons are served (installable)', async () => {
    const manifest = await page.evaluate(async () => {
      const href = document.querySelector('link[rel="manifest"]').href;
      const m = await (await fetch(href)).json();
      const icons = await Promise.all(m.icons.map(async (i) => {
        const r = await fetch(new URL(i.src, href));
        const bmp = await createImageBitmap(await r.blob());
        return [i.sizes, `${bmp.width}x${bmp.height}`];
      }));
      return { m, icons };
    });
    assert(manifest.m.start_url === './' && manifest.m.display === 'standalone', JSON.stringify(manifest.m));
    assert(manifest.icons.length >= 2 && manifest.icons.every(([want, got]) => want === got), JSON.stringify(manifest.icons));
  });

  assert(site.stats.outside.length === 0, `requests outside the sub-path: ${site.stats.outside}`);
} finally {
  await context.close();
  site.server.close();
  foreign.close();
}
if (failed()) {
  console.log(`${failed()} offline test(s) failed`);
  process.exit(1);
}
console.log('all offline tests passed');

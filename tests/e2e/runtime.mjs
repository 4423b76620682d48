// Browser runtime tests (headless Debian Chromium, driving the real UI):
// cold load with progress, results equal to the native CLI within BAR (6e-4), a bad file failing
// alone, warm start with the model server off (zero requests), a corrupted IndexedDB entry
// detected and re-fetched, 404 and truncated files giving clear errors and caching nothing,
// an interrupted download resumed with Range (and restarted where Range is refused),
// cancel stopping a long batch, and injected storage faults (IndexedDB blocked, the quota
// filling during a chunk or the manifest write): memory only, a notice, nothing half-stored.
//
// Usage: node tests/e2e/runtime.mjs DIST_DIR MODELS_DIR SIGLENS_BIN
// MODELS_DIR must hold tiny48-q8_0.gguf (made by `siglens quantize`).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, checks } from './harness.mjs';
import { startServer } from './server.mjs';

const [dist, models, siglens] = process.argv.slice(2).map((p) => p && resolve(p));
if (!siglens) {
  console.error('usage: node tests/e2e/runtime.mjs DIST_DIR MODELS_DIR SIGLENS_BIN');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const fixtures = join(root, 'tests/fixtures/images');
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const MODEL = 'tiny48-q8_0.gguf';
const modelFile = join(models, MODEL);
const IMAGES = ['chelsea.png', 'coffee.png', 'rocket.jpg', 'grace_hopper.jpg', 'synthetic_gray.png'];
const LABELS = ['cat', 'coffee', 'rocket', 'a woman in uniform'];

// A text file with an image extension: must fail alone, the others go on.
const work = mkdtempSync(join(tmpdir(), 'siglens-e2e-'));
const broken = join(work, 'broken.jpg');
writeFileSync(broken, 'this is not an image\n');

const { server, stats, url: base, origin } = await startServer({
  dist, models, hfRoot: join(root, 'tests/fixtures/models'),
});
const profile = mkdtempSync(join(tmpdir(), 'siglens-profile-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    // A synthetic camera, allowed without a prompt, for the snapshot test.
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(m.text());
});
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
// Privacy: every request of the whole visit (page, engine worker, service worker) is
// recorded; anything off the app's origin fails the run (checked at the end).
const requested = [];
context.on('request', (r) => requested.push(r.url()));

const { check, failed, fail } = checks(page, artifacts);
const statsNow = async () => (await fetch(`${base}__stats`)).json();
const modelsOn = async (on) => fetch(`${base}__models?on=${on ? 1 : 0}`);

async function openApp() {
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForFunction(
    () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'),
    null, { timeout: 60_000 });
}

/// Loads `url` through the model panel; returns the ready line's data or the error text.
async function loadModel(url, { expectError = false, watchProgress = false, hf = null } = {}) {
  if (hf) {
    await page.check('#source-hf');
    await page.fill('#hf-endpoint', hf.endpoint);
    await page.fill('#hf-repo', hf.repo);
    await page.fill('#hf-revision', hf.revision || 'main');
    await page.selectOption('#hf-dtype', hf.dtype || 'q8_0');
  } else {
    await page.check('#source-gguf');
    await page.fill('#model-url', url);
  }
  await page.click('#load-model');
  const seen = new Set();
  if (watchProgress) {
    // Sample the progress line while it is there.
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const t = await page.locator('#load-progress span').textContent({ timeout: 50 }).catch(() => null);
      if (t) seen.add(t);
      if (await page.locator('#model-ready, #model-error').count()) break;
      await page.waitForTimeout(20);
    }
  }
  await page.waitForSelector('#model-ready, #model-error', { timeout: 60_000 });
  const err = (await page.locator('#model-error').count())
    ? await page.locator('#model-error').textContent()
    : null;
  if (expectError) {
    assert(err, `expected an error loading ${url}`);
    return { error: err };
  }
  assert(!err, `loading ${url} failed: ${err}`);
  const ready = page.locator('#model-ready');
  return {
    fromCache: (await ready.getAttribute('data-from-cache')) === 'true',
    networkRequests: Number(await ready.getAttribute('data-network-requests')),
    loadMs: Number(await ready.getAttribute('data-load-ms')),
    text: await ready.textContent(),
    progress: [...seen],
  };
}

async function cachedKeys() {
  return page.evaluate(() => new Promise((res, rej) => {
    const r = indexedDB.open('siglens-models');
    r.onerror = () => rej(r.error);
    r.onsuccess = () => {
      const db = r.result;
      const tx = db.transaction(['manifests', 'chunks'], 'readonly');
      const out = {};
      tx.objectStore('manifests').getAllKeys().onsuccess = (e) => { out.manifests = e.target.result; };
      tx.objectStore('chunks').getAllKeys().onsuccess = (e) => { out.chunks = e.target.result; };
      tx.oncomplete = () => { db.close(); res(out); };
    };
  }));
}

/// The main engine worker (named by the page; the extra image workers have other names).
async function mainEngine() {
  for (const w of page.workers()) {
    if (await w.evaluate(() => self.name).catch(() => null) === 'siglens-engine') return w;
  }
  throw new Error('no main engine worker');
}

async function addImages(paths) {
  await page.setInputFiles('#image-input', paths);
}

async function waitEmbedded() {
  await page.waitForFunction(
    () => document.querySelectorAll('#gallery [data-state="working"], #gallery [data-state="queued"]').length === 0
      && document.querySelectorAll('#gallery li').length > 0,
    null, { timeout: 120_000 });
}

/// Classifies the embedded IMAGES with LABELS in the page; the largest difference from
/// `siglens classify` on the same GGUF (or on `opts.model`).
async function classifyVsCli(opts = {}) {
  await page.fill('#labels', LABELS.join('\n'));
  await page.click('#classify');
  await page.waitForSelector('#matrix');
  const native = cli(['classify', '--model', opts.model ?? modelFile, ...LABELS.flatMap((l) => ['--label', l]),
    ...IMAGES.map((f) => join(fixtures, f))], opts);
  let worst = 0;
  for (const row of native) {
    const name = row.image.split('/').pop();
    for (const { label, score } of row.scores) {
      const got = Number(await page.locator(
        `.scores[data-image="${name}"] g[data-label="${label}"]`).getAttribute('data-score'));
      worst = Math.max(worst, Math.abs(got - score));
    }
  }
  return worst;
}

/// The native CLI on the same model. In the browser q8_0 weights compute on the int8
/// kernel (activations rounded per row to 14 bits, the vision MLP's input to 7 bits on rows
/// without outliers), so by default the CLI is asked for the same kernel (`--int8-kernel`). They still cannot agree bit for bit: the two builds differ
/// in the last bits of some f32 ops outside the kernel (native attention uses FMA, wasm
/// does not), and such a difference can flip an activation's rounding. On tiny48's 48-wide
/// rows, at 14 bits, the worst of this test's 20 scores differs by 4.2e-4 (the same scores' int8-vs-f32 difference natively:
/// 4.4e-4). Hence BAR; a wrong weight, layout or preprocessing step moves scores by far more
/// (> 1e-2). `{ int8: false }` gives the CLI's dequantized f32 math (`--f32-matmul`), for
/// the fidelity check.
const BAR = 6e-4;
function cli(args, { int8 = true } = {}) {
  const extra = args.includes('--model') ? [int8 ? '--int8-kernel' : '--f32-matmul'] : [];
  return JSON.parse(execFileSync(siglens, [...args, ...extra, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

try {
  await openApp();

  await check('cold load from the network with byte progress', async () => {
    const r = await loadModel(`slow/${MODEL}`, { watchProgress: true });
    assert(!r.fromCache, 'first load cannot come from the cache');
    assert(r.progress.some((t) => /downloading [\d.]+ MB \/ [\d.]+ MB at/.test(t)),
      `no byte progress seen: ${JSON.stringify(r.progress)}`);
    const keys = await cachedKeys();
    assert(keys.manifests.includes(`gguf:slow/${MODEL}`), `not cached: ${JSON.stringify(keys.manifests)}`);
  });

  await check('results equal the native CLI within BAR; a bad file fails alone', async () => {
    await loadModel(`models/${MODEL}`);
    // With a spare core the batch is shared with an image worker: its results are checked too.
    if (await page.evaluate(() => navigator.hardwareConcurrency) > 1) await page.waitForSelector('#image-workers');
    await addImages([...IMAGES.map((f) => join(fixtures, f)), broken]);
    await waitEmbedded();
    const bad = page.locator('#gallery li[data-name="broken.jpg"]');
    assert((await bad.getAttribute('data-state')) === 'failed', 'broken.jpg should fail');
    const msg = await bad.locator('.state').textContent();
    assert(/cannot identify image file/.test(msg), `unclear error: ${msg}`);
    assert(await page.locator('#gallery li[data-state="embedded"]').count() === IMAGES.length,
      'every good image must be embedded');
    // Thumbnails are small copies made by the browser, not the original files.
    await page.waitForFunction((n) => {
      const imgs = [...document.querySelectorAll('#gallery li[data-state="embedded"] img')];
      return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, IMAGES.length, { timeout: 30_000 });
    const widths = await page.locator('#gallery img').evaluateAll((is) => is.map((i) => i.naturalWidth));
    assert(widths.every((w) => w <= 256), `thumbnails too large: ${widths}`);

    const worst = await classifyVsCli();
    console.log(`     classify: max |browser - native| = ${worst.toExponential(2)}`);
    // Against the CLI's f32 math on the same q8_0 weights: what the int8 kernel's activation
    // rounding costs; beside it, what the user sees against the f32 model (q8_0 storage and
    // the rounding together). With 14-bit activations everywhere the first was 4.4e-4; the
    // vision MLP's 7-bit input makes it 1.5e-2 on this 48-wide model (BENCHMARKS.md "7-bit
    // MLP inputs"; on the base architecture it adds ~1% to the cosine error q8_0 costs),
    // against 5.3e-2 for the whole. The rounding must stay the smaller part: a kernel rounding
    // more than it should (7 bits on q/k/v, fewer bits) would not.
    const vsF32 = await classifyVsCli({ int8: false });
    const vsF32Model = await classifyVsCli({ int8: false, model: join(root, 'tests/fixtures/models/tiny48') });
    console.log(`     classify vs the CLI's dequantized f32 math: max |d| = ${vsF32.toExponential(2)}; vs the f32 model: ${vsF32Model.toExponential(2)}`);
    assert(worst <= BAR, `scores differ from the CLI by ${worst}`);
    assert(vsF32 <= 0.5 * vsF32Model,
      `the int8 kernel's rounding moves scores by ${vsF32}, not under half of the ${vsF32Model} against the f32 model`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    const nativeEmb = cli(['embed', '--model', modelFile, ...IMAGES.flatMap((f) => ['--image', join(fixtures, f)])]);
    let worstE = 0;
    for (const n of nativeEmb.images) {
      const name = n.image.split('/').pop();
      const b = exported.images.find((x) => x.image === name);
      assert(b, `export lacks ${name}`);
      assert(b.embedding.length === n.embedding.length, 'dimension mismatch');
      n.embedding.forEach((v, i) => { worstE = Math.max(worstE, Math.abs(v - b.embedding[i])); });
    }
    console.log(`     embeddings: max |browser - native| = ${worstE.toExponential(2)}`);
    assert(worstE <= BAR, `embeddings differ from the CLI by ${worstE}`);
  });

  await check('without relaxed SIMD the app runs the simd128 worker build, with the same embeddings bit for bit', async () => {
    const exportJson = async (p) => {
      const [dl] = await Promise.all([p.waitForEvent('download'), p.click('#export-json')]);
      return JSON.parse(readFileSync(await dl.path(), 'utf8'));
    };
    const isRelaxed = (u) => u.endsWith('/worker-relaxed_bg.wasm');
    const isPlain = (u) => u.endsWith('/worker_bg.wasm');
    assert(requested.some(isRelaxed) && !requested.some(isPlain),
      'Chromium validates relaxed SIMD: only the relaxed build should have loaded');
    const relaxed = await exportJson(page);
    const plain = await context.newPage();
    try {
      // What a browser without relaxed SIMD (Safari) answers the app's one probe.
      await plain.addInitScript(() => { WebAssembly.validate = () => false; });
      const before = requested.length;
      await plain.goto(base, { waitUntil: 'load' });
      await plain.waitForFunction(
        () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'),
        null, { timeout: 60_000 });
      await plain.check('#source-gguf');
      await plain.fill('#model-url', `models/${MODEL}`);
      await plain.click('#load-model');
      await plain.waitForSelector('#model-ready', { timeout: 60_000 });
      await plain.setInputFiles('#image-input', IMAGES.map((f) => join(fixtures, f)));
      await plain.waitForFunction((n) => document.querySelectorAll('#gallery li[data-state="embedded"]').length === n,
        IMAGES.length, { timeout: 120_000 });
      const loaded = requested.slice(before);
      assert(loaded.some(isPlain) && !loaded.some(isRelaxed), `worker builds loaded: ${loaded.filter((u) => u.includes('worker'))}`);
      const simd128 = await exportJson(plain);
      // Both builds quantize activations to the same 14 bits and sum exactly, and only the
      // int8 tile functions differ between them.
      for (const name of IMAGES) {
        const a = relaxed.images.find((x) => x.image === name);
        const b = simd128.images.find((x) => x.image === name);
        assert(a && b, `export lacks ${name}`);
        const diff = a.embedding.findIndex((v, i) => v !== b.embedding[i]);
        assert(diff < 0, `${name}: the builds differ at ${diff}: ${a.embedding[diff]} vs ${b.embedding[diff]}`);
      }
    } finally {
      await plain.close();
    }
  });

  await check('search, similar images and CSV/NPY exports match the native CLI', async () => {
    const query = 'a cat on a sofa';
    await page.fill('#search-query', query);
    await page.click('#search');
    await page.waitForSelector('#search-results li');
    const native = cli(['similarity', '--model', modelFile, '--text', query,
      ...IMAGES.flatMap((f) => ['--image', join(fixtures, f)])]);
    const hits = await page.locator('#search-results li').evaluateAll((ls) =>
      ls.map((l) => [l.dataset.name, Number(l.dataset.score)]));
    assert(hits.length === IMAGES.length, `search found ${hits.length}`);
    for (let i = 1; i < hits.length; i++) assert(hits[i - 1][1] >= hits[i][1], 'search not sorted');
    let worst = 0;
    native.images.forEach((img, i) => {
      const hit = hits.find(([n]) => n === img.split('/').pop());
      worst = Math.max(worst, Math.abs(hit[1] - native.probs[i][0]));
    });
    console.log(`     search: max |browser - native| = ${worst.toExponential(2)}`);
    assert(worst <= BAR, `search scores differ from the CLI by ${worst}`);

    const emb = cli(['embed', '--model', modelFile, ...IMAGES.flatMap((f) => ['--image', join(fixtures, f)])]).images;
    const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
    const target = 'chelsea.png';
    const value = await page.locator('#similar-to option', { hasText: target }).getAttribute('value');
    await page.selectOption('#similar-to', value);
    await page.waitForSelector('#similar-results li');
    const sim = await page.locator('#similar-results li').evaluateAll((ls) =>
      ls.map((l) => [l.dataset.name, Number(l.dataset.score)]));
    assert(sim.length === IMAGES.length - 1 && !sim.some(([n]) => n === target), 'similar lists the others');
    const q = emb.find((e) => e.image.endsWith(target)).embedding;
    let worstSim = 0;
    for (const [name, score] of sim) {
      const e = emb.find((x) => x.image.endsWith(`/${name}`)).embedding;
      worstSim = Math.max(worstSim, Math.abs(score - dot(q, e)));
    }
    assert(worstSim <= BAR, `similar cosines differ from the CLI embeddings by ${worstSim}`);

    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync(await csvDl.path(), 'utf8').trim().split('\n');
    assert(csv[0].startsWith('name,d0,d1') && csv.length === IMAGES.length + 1, `csv: ${csv[0]} (${csv.length} lines)`);
    const [npyDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-npy')]);
    const npy = readFileSync(await npyDl.path());
    const hlen = npy.readUInt16LE(8);
    const header = npy.subarray(10, 10 + hlen).toString();
    const dim = emb[0].embedding.length;
    assert(header.includes(`'shape': (${IMAGES.length}, ${dim})`), `npy header: ${header}`);
    let worstNpy = 0;
    csv.slice(1).forEach((line, r) => {
      const name = line.split(',')[0];
      const e = emb.find((x) => x.image.endsWith(`/${name}`)).embedding;
      for (let j = 0; j < dim; j++) {
        const v = npy.readFloatLE(10 + hlen + 4 * (r * dim + j));
        worstNpy = Math.max(worstNpy, Math.abs(v - e[j]), Math.abs(Number(line.split(',')[j + 1]) - e[j]));
      }
    });
    assert(worstNpy <= BAR, `exports differ from the CLI embeddings by ${worstNpy}`);

    // Text embeddings: the listed texts, as `siglens embed --text` makes them (JSON and NPY).
    const texts = ['A Cat', 'la tour Eiffel', '猫の写真'];
    await page.fill('#export-texts', `${texts.join('\n')}\n\n`);
    const [tJson] = await Promise.all([page.waitForEvent('download'), page.click('#export-texts-json')]);
    assert(tJson.suggestedFilename() === 'siglens-text-embeddings.json', tJson.suggestedFilename());
    const tExported = JSON.parse(readFileSync(await tJson.path(), 'utf8')).texts;
    const tNative = cli(['embed', '--model', modelFile, ...texts.flatMap((t) => ['--text', t])]).texts;
    assert(tExported.length === texts.length && tExported.every((x, i) => x.text === texts[i]),
      `text export rows: ${tExported.map((x) => x.text)}`);
    const [tNpyDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-texts-npy')]);
    const tNpy = readFileSync(await tNpyDl.path());
    const tHlen = tNpy.readUInt16LE(8);
    let worstText = 0;
    tNative.forEach((n, r) => n.embedding.forEach((v, j) => {
      worstText = Math.max(worstText, Math.abs(v - tExported[r].embedding[j]),
        Math.abs(v - tNpy.readFloatLE(10 + tHlen + 4 * (r * dim + j))));
    }));
    console.log(`     text embeddings: max |browser - native| = ${worstText.toExponential(2)}`);
    assert(worstText <= BAR, `text embeddings differ from the CLI by ${worstText}`);

    // K-means in the worker: suggested k, then a chosen k; every image in one cluster.
    await page.click('#cluster');
    await page.waitForSelector('#cluster-summary');
    const suggested = Number(await page.locator('#cluster-summary').getAttribute('data-suggested'));
    assert(suggested >= 2 && suggested <= IMAGES.length - 1, `suggested k ${suggested}`);
    await page.fill('#cluster-k', '2');
    await page.click('#cluster');
    await page.waitForSelector('#cluster-summary[data-k="2"]');
    const sizes = await page.locator('#clusters figure.cluster').evaluateAll((fs) => fs.map((f) => Number(f.dataset.size)));
    assert(sizes.length === 2 && sizes.reduce((a, b) => a + b, 0) === IMAGES.length && sizes.every((n) => n > 0),
      `cluster sizes ${sizes}`);

    // The UMAP map: one thumbnail per image, inside the square, framed by cluster colour.
    await page.click('#make-map');
    await page.waitForSelector('#map g.map-point');
    const pts = await page.locator('#map g.map-point').evaluateAll((gs) => gs.map((g) => ({
      x: Number(g.dataset.x), y: Number(g.dataset.y), fill: g.querySelector('rect').getAttribute('fill'),
    })));
    assert(pts.length === IMAGES.length, `map has ${pts.length} points`);
    assert(pts.every((p) => p.x >= 0 && p.x <= 1000 && p.y >= 0 && p.y <= 1000), 'map points out of range');
    assert(new Set(pts.map((p) => p.fill)).size === 2, 'map frames should show the 2 clusters');

    // Label editor: add one, remove one; the textarea follows.
    await page.fill('#labels', 'cat\ndog');
    await page.fill('#new-label', 'bird');
    await page.click('#add-label');
    assert(await page.inputValue('#labels') === 'cat\ndog\nbird', 'add label');
    await page.click('#label-chips button[aria-label="remove label dog"]');
    assert(await page.inputValue('#labels') === 'cat\nbird', `remove label: ${await page.inputValue('#labels')}`);

    // The first dimensions as bars (the notebook shows 10).
    await page.selectOption('#emb-image', value);
    const bars = await page.locator('figure.dims g[data-dim]').count();
    assert(bars === 10, `expected 10 dimension bars, got ${bars}`);

    // A screenshot of every view, kept as test artifacts.
    for (const h of ['model-h', 'images-h', 'classify-h', 'search-h', 'similar-h', 'clusters-h', 'map-h', 'emb-h']) {
      await page.locator(`section[aria-labelledby="${h}"]`).screenshot({ path: join(artifacts, `view-${h.replace('-h', '')}.png`) });
    }
  });

  await check('phone width, dark mode, accessible names and keyboard use', async () => {
    const controls = 'button, input, select, textarea, summary, a[href], [tabindex]:not([tabindex="-1"])';
    // Phone: nothing wider than the screen (wide tables and charts scroll inside their box).
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `page is ${overflow}px wider than a 390px phone`);
    await page.screenshot({ path: join(artifacts, 'phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    // Dark mode follows the system setting.
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.screenshot({ path: join(artifacts, 'dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const lum = (c) => c.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0);
    assert(lum(dark) < 150 && lum(light) > 600, `backgrounds: dark ${dark}, light ${light}`);

    // Every control has an accessible name.
    const unnamed = await page.evaluate((sel) => [...document.querySelectorAll(sel)].filter((el) => {
      if (el.type === 'hidden' || el.closest('[aria-hidden="true"]')) return false;
      const byIds = (el.getAttribute('aria-labelledby') || '').split(/\s+/)
        .map((id) => document.getElementById(id)?.textContent || '').join('');
      const name = [el.getAttribute('aria-label'), byIds, ...[...(el.labels || [])].map((l) => l.textContent),
        el.getAttribute('title'), ['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) ? el.textContent : '']
        .filter(Boolean).join('').trim();
      return !name;
    }).map((el) => el.outerHTML.slice(0, 120)), controls);
    assert(unnamed.length === 0, `controls without an accessible name:\n${unnamed.join('\n')}`);

    // Tab reaches every enabled, visible control (one stop per radio group, as browsers do).
    const stops = (sel) => {
      const els = [...document.querySelectorAll(sel)].filter((el) => !el.disabled && el.type !== 'hidden'
        && el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true }));
      const groups = new Map();
      for (const el of els) {
        const key = el.type === 'radio' && el.name ? `radio:${el.name}` : el;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(el);
      }
      return [...groups.values()];
    };
    await page.evaluate(() => {
      document.querySelectorAll('[data-tab-seen]').forEach((el) => el.removeAttribute('data-tab-seen'));
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    await page.mouse.click(1, 1); // Tab order starts from the top of the page
    const count = await page.evaluate(`(${stops})(${JSON.stringify(controls)}).length`);
    for (let i = 0; i < count + 20; i++) {
      await page.keyboard.press('Tab');
      await page.evaluate(() => document.activeElement?.setAttribute('data-tab-seen', '1'));
    }
    const missed = await page.evaluate(`(${stops})(${JSON.stringify(controls)})
      .filter((g) => !g.some((el) => el.hasAttribute('data-tab-seen'))).map((g) => g[0].outerHTML.slice(0, 120))`);
    assert(count > 30 && missed.length === 0, `Tab missed ${missed.length} of ${count} controls:\n${missed.join('\n')}`);

    // Keyboard only: search with Enter, remove a label chip with Enter.
    const scoresNow = () => [...document.querySelectorAll('#search-results li')].map((l) => l.dataset.score).join();
    const before = await page.evaluate(scoresNow);
    await page.fill('#search-query', 'coffee');
    await page.focus('#search-query');
    await page.keyboard.press('Enter');
    // (No eval here: the page's CSP refuses it when the predicate is polled from a timer.)
    await page.waitForFunction((b) => [...document.querySelectorAll('#search-results li')]
      .map((l) => l.dataset.score).join() !== b, before);
    await page.fill('#labels', 'cat\ndog');
    await page.focus('#label-chips button[aria-label="remove label cat"]');
    await page.keyboard.press('Enter');
    assert(await page.inputValue('#labels') === 'dog', 'Enter on a chip removes its label');
  });

  await check('warm start: no network at all (model server off)', async () => {
    await openApp();
    await modelsOn(false);
    const before = (await statsNow()).model;
    const r = await loadModel(`models/${MODEL}`);
    const after = (await statsNow()).model;
    await modelsOn(true);
    assert(r.fromCache, 'expected a load from the cache');
    assert(r.networkRequests === 0 && after === before,
      `warm start made requests: worker says ${r.networkRequests}, server saw ${after - before}`);
    console.log(`     warm start to ready: ${r.loadMs.toFixed(0)} ms`);
  });

  /// Edits the model cache of entry `key` in one read-write transaction (no eval: the
  /// page's CSP forbids it): 'manifest' reads the manifest, 'strip' removes its per-chunk
  /// hashes and rewrites its chunks as Uint8Arrays (as an older entry, or one stored without
  /// WebCrypto), 'corrupt' flips 64 bytes in the middle of chunk `arg` (0 if not given),
  /// 'rechunk' stores the same bytes again in chunks of `arg` bytes with their SHA-256s
  /// (the per-chunk check of entries stored before xxh3; xxh3 has no JS implementation here).
  const editCache = (what, key, arg) => page.evaluate(([what, key, arg]) => new Promise((res, rej) => {
    const r = indexedDB.open('siglens-models');
    r.onsuccess = () => {
      const tx = r.result.transaction(['manifests', 'chunks'], 'readwrite');
      const out = {};
      const manifests = tx.objectStore('manifests');
      const chunks = tx.objectStore('chunks');
      if (what === 'manifest') manifests.get(key).onsuccess = (e) => { out.m = e.target.result; };
      const range = IDBKeyRange.bound(`${key}\u0000`, `${key}\u0001`, false, true);
      if (what === 'rechunk') {
        manifests.get(key).onsuccess = (e) => { out.m = e.target.result; };
        chunks.getAll(range).onsuccess = (e) => { out.values = e.target.result; };
      }
      if (what === 'strip') {
        // As an older version stored it: no chunk hashes, chunks as Uint8Arrays (now Blobs).
        manifests.get(key).onsuccess = (e) => { const m = e.target.result; delete m.chunk_sha256; delete m.chunk_xxh3; manifests.put(m, key); };
        chunks.getAllKeys(range).onsuccess = (e) => { out.keys = e.target.result; };
        chunks.getAll(range).onsuccess = (e) => { out.values = e.target.result; };
      }
      if (what === 'corrupt') {
        // Read the chunk here, flip bytes in its middle, store it back as it was (Blob or not).
        const k = `${key}\u0000${String(arg || 0).padStart(8, '0')}`;
        chunks.get(k).onsuccess = (e) => { out.keys = [k]; out.values = [e.target.result]; };
      }
      tx.oncomplete = async () => {
        if (what === 'rechunk') {
          const parts = await Promise.all(out.values.map((v) => (v instanceof Blob ? v.arrayBuffer() : v)));
          const whole = new Uint8Array(await new Blob(parts).arrayBuffer());
          const pieces = [];
          for (let at = 0; at < whole.length; at += arg) pieces.push(whole.subarray(at, at + arg));
          const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
          const sums = await Promise.all(pieces.map(async (p) => hex(await crypto.subtle.digest('SHA-256', p))));
          const put = r.result.transaction(['manifests', 'chunks'], 'readwrite');
          put.objectStore('chunks').delete(range);
          pieces.forEach((p, i) => put.objectStore('chunks').put(new Blob([p]), `${key}\u0000${String(i).padStart(8, '0')}`));
          put.objectStore('manifests').put({ ...out.m, chunks: pieces.length, chunk_bytes: arg, chunk_sha256: sums, chunk_xxh3: [] }, key);
          put.oncomplete = () => { r.result.close(); res({ chunks: pieces.length }); };
          put.onerror = () => rej(put.error);
          return;
        }
        if (!out.keys) { r.result.close(); return res(out); }
        if (!out.values.length || !out.values[0]) return rej(new Error(`no chunks for ${key}`));
        const bytes = async (v) => (v instanceof Blob ? new Uint8Array(await v.arrayBuffer()) : v);
        const values = await Promise.all(out.values.map(bytes));
        if (what === 'corrupt') {
          const b = values[0];
          for (let i = b.length >> 1; i < (b.length >> 1) + 64; i++) b[i] ^= 0xff;
          if (out.values[0] instanceof Blob) values[0] = new Blob([b]);
        }
        const put = r.result.transaction('chunks', 'readwrite');
        out.keys.forEach((k, i) => put.objectStore('chunks').put(values[i], k));
        put.oncomplete = () => { r.result.close(); res({ converted: values.length, blob: out.values[0] instanceof Blob }); };
        put.onerror = () => rej(put.error);
      };
      tx.onerror = () => rej(tx.error);
    };
  }), [what, key, arg]);

  await check('a corrupted cache entry is detected (per-chunk xxh3, or the whole-file hash of an older entry), discarded and fetched again', async () => {
    const key = `gguf:models/${MODEL}`;
    const { m } = await editCache('manifest', key);
    assert(Array.isArray(m.chunk_xxh3) && m.chunk_xxh3.length === m.chunks && /^[0-9a-f]{16}$/.test(m.chunk_xxh3[0]),
      `the manifest lacks per-chunk hashes: ${JSON.stringify(m)}`);
    // Image workers read the cache after a load; let them finish before the cache is edited
    // (one reading a damaged entry would discard it itself: see the issue 5 note).
    const workersSettled = async () => {
      if (await page.evaluate(() => navigator.hardwareConcurrency) > 1) await page.waitForSelector('#image-workers');
    };
    await workersSettled();
    for (const mode of ['per-chunk', 'whole-file']) {
      if (mode === 'whole-file') {
        // An entry stored without chunk hashes and with Uint8Array chunks (older versions,
        // or no WebCrypto) still starts.
        const { converted } = await editCache('strip', key);
        assert(converted > 0, 'no chunks were rewritten');
        await openApp();
        const old = await loadModel(`models/${MODEL}`);
        assert(old.fromCache, 'an entry without chunk hashes must still load from the cache');
        await workersSettled();
      }
      const { m: stored } = await editCache('manifest', key);
      assert((stored.chunk_xxh3 || []).length === (mode === 'per-chunk' ? stored.chunks : 0),
        `${mode}: the manifest's chunk hashes are not what this mode tests`);
      const { blob } = await editCache('corrupt', key);
      assert(blob === (mode === 'per-chunk'), `${mode}: chunk 0 ${blob ? 'is' : 'is not'} a Blob`);
      await openApp();
      const before = (await statsNow()).model;
      const r = await loadModel(`models/${MODEL}`);
      assert(!r.fromCache, `${mode}: a corrupted entry must not be used`);
      assert((await statsNow()).model > before, `${mode}: the model must be fetched again`);
      const notices = await page.locator('#notices').textContent();
      assert(/damaged/.test(notices), `${mode}: no notice about the damaged copy: ${notices}`);
      await openApp();
      const again = await loadModel(`models/${MODEL}`);
      assert(again.fromCache, `${mode}: the re-fetched copy must be cached again`);
    }
  });

  /// `[start, end)` of the q8_0 token table in our GGUF (v3: counts and lengths are u64).
  function tokenTableRange(buf) {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 8;
    const u32 = () => { const v = dv.getUint32(at, true); at += 4; return v; };
    const u64 = () => { const v = Number(dv.getBigUint64(at, true)); at += 8; return v; };
    const str = () => { const n = u64(); const v = buf.subarray(at, at + n).toString(); at += n; return v; };
    const size = { 0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8 };
    const skip = (t) => {
      if (t === 8) { const n = u64(); at += n; } // (`at += u64()` would add to the old `at`)
      else if (t === 9) { const e = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(e); }
      else at += size[t];
    };
    const [tensors, kvs] = [u64(), u64()];
    let align = 32;
    for (let i = 0; i < kvs; i++) {
      const k = str(); const t = u32();
      if (k === 'general.alignment') align = dv.getUint32(at, true);
      skip(t);
    }
    const infos = [];
    for (let i = 0; i < tensors; i++) {
      const name = str(); const dims = []; const nd = u32();
      for (let d = 0; d < nd; d++) dims.push(u64());
      infos.push({ name, dims, type: u32(), offset: u64() });
    }
    const data = Math.ceil(at / align) * align;
    const t = infos.find((x) => x.name === 'text_model.embeddings.token_embedding.weight');
    assert(t && t.type === 8, `no q8_0 token table: ${JSON.stringify(t)}`);
    return [data + t.offset, data + t.offset + (t.dims[0] * t.dims[1]) / 32 * 34];
  }

  await check('the token table stays in the cache: a warm start skips its chunks, texts read their rows (same scores), a damaged one is found after the start', async () => {
    const key = `gguf:models/${MODEL}`;
    const workersSettled = async () => {
      if (await page.evaluate(() => navigator.hardwareConcurrency) > 1) await page.waitForSelector('#image-workers');
    };
    const scores = async () => {
      await addImages(IMAGES.map((f) => join(fixtures, f)));
      await waitEmbedded();
      await page.fill('#labels', LABELS.join('\n'));
      await page.click('#classify');
      await page.waitForSelector('#matrix');
      return page.locator('.scores g[data-label]').evaluateAll((gs) =>
        gs.map((g) => `${g.closest('.scores').dataset.image}/${g.dataset.label}=${g.dataset.score}`).sort());
    };
    // 8 MiB chunks: tiny48's whole file is one chunk, so nothing is left in the cache.
    await openApp();
    await loadModel(`models/${MODEL}`); // cached by an earlier check, or now
    await workersSettled();
    await openApp();
    const whole = await loadModel(`models/${MODEL}`);
    assert(whole.fromCache, 'expected a warm start');
    assert(await page.locator('#model-ready').getAttribute('data-left-in-cache') === '0', 'one chunk: all read');
    const want = await scores();
    await workersSettled();
    // Chunks of 4 KiB put several wholly inside the 29 KB table.
    const CS = 4096;
    await editCache('rechunk', key, CS);
    await openApp();
    const r = await loadModel(`models/${MODEL}`);
    assert(r.fromCache, 'the rechunked entry must load from the cache');
    const left = Number(await page.locator('#model-ready').getAttribute('data-left-in-cache'));
    const [start, end] = tokenTableRange(readFileSync(modelFile));
    const inside = Math.floor(end / CS) - Math.ceil(start / CS);
    assert(inside >= 4 && left === inside * CS, `left in the cache: ${left} bytes, chunks wholly inside the table: ${inside}`);
    const got = await scores();
    assert(JSON.stringify(got) === JSON.stringify(want), `scores differ:\n${got}\nvs\n${want}`);
    await workersSettled();

    // A skipped chunk damaged: the start succeeds (it does not read it), the check after
    // it finds the damage and drops the entry; texts then fail clearly, the next load downloads.
    const bad = Math.ceil(start / CS) + 1;
    await editCache('corrupt', key, bad);
    await openApp();
    const before = (await statsNow()).model;
    const d = await loadModel(`models/${MODEL}`);
    assert(d.fromCache, 'the start does not read the skipped chunk');
    await page.waitForFunction((k) => new Promise((res) => {
      const o = indexedDB.open('siglens-models');
      o.onsuccess = () => {
        const g = o.result.transaction('manifests').objectStore('manifests').get(k);
        g.onsuccess = () => { o.result.close(); res(g.result === undefined); };
      };
    }), key, { timeout: 30_000, polling: 200 });
    await addImages([join(fixtures, IMAGES[0])]);
    await waitEmbedded();
    await page.fill('#labels', LABELS.join('\n'));
    await page.click('#classify');
    const err = page.locator('section[aria-labelledby="classify-h"] .error');
    await err.waitFor({ timeout: 30_000 });
    const msg = await err.textContent();
    assert(/damaged/.test(msg) && new RegExp(`chunk ${bad}\\b`).test(msg) && /load the model again/.test(msg),
      `unclear error: ${msg}`);
    await openApp();
    const again = await loadModel(`models/${MODEL}`);
    assert(!again.fromCache && (await statsNow()).model > before, 'the dropped entry must be downloaded again');
    await openApp();
    assert((await loadModel(`models/${MODEL}`)).fromCache, 'and cached again');
    await workersSettled();
  });

  await check('404 and a truncated file: clear errors, nothing cached', async () => {
    const e404 = await loadModel('models/missing.gguf', { expectError: true });
    assert(/models\/missing\.gguf/.test(e404.error) && /404/.test(e404.error), `unclear 404: ${e404.error}`);
    const eTrunc = await loadModel(`truncated/${MODEL}`, { expectError: true });
    assert(/truncated/.test(eTrunc.error) && eTrunc.error.includes(`truncated/${MODEL}`),
      `unclear truncation error: ${eTrunc.error}`);
    const keys = await cachedKeys();
    const leftovers = [...keys.manifests, ...keys.chunks].filter((k) => /missing|truncated/.test(k));
    assert(leftovers.length === 0, `failed loads left cache entries: ${leftovers}`);
  });

  await check('an interrupted download resumes with Range, or restarts where Range is refused', async () => {
    const before = (await statsNow()).range;
    const r = await loadModel(`flaky/${MODEL}`);
    assert(!r.fromCache, 'flaky load is a download');
    assert((await statsNow()).range > before, 'no Range request was made');
    const r2 = await loadModel(`norange/${MODEL}`);
    assert(!r2.fromCache, 'norange load is a download');
    const notices = await page.locator('#notices').textContent();
    assert(/cannot resume/.test(notices), `no restart notice: ${notices}`);
    // Both stored copies verify on the next start.
    await openApp();
    assert((await loadModel(`flaky/${MODEL}`)).fromCache, 'resumed download not cached intact');
    assert((await loadModel(`norange/${MODEL}`)).fromCache, 'restarted download not cached intact');
  });

  await check('a Hugging Face repo is quantized while streaming, equals `siglens quantize`, and is cached', async () => {
    await openApp();
    // Served slowly, so the quantize phase is seen in the progress line.
    const hf = { endpoint: `${base}hf-slow`, repo: 'siglens-test/tiny48', dtype: 'q8_0' };
    const r = await loadModel(null, { hf, watchProgress: true });
    assert(!r.fromCache, 'first HF load is a download');
    assert(r.progress.some((t) => /downloading and quantizing/.test(t)),
      `no quantize progress seen: ${JSON.stringify(r.progress)}`);
    await addImages(IMAGES.map((f) => join(fixtures, f)));
    await waitEmbedded();
    const worst = await classifyVsCli();
    console.log(`     HF q8_0 in the browser vs native q8_0 GGUF: max |d| = ${worst.toExponential(2)}`);
    assert(worst <= BAR, `HF-quantized scores differ from the CLI by ${worst}`);
    await openApp();
    const before = (await statsNow()).model;
    const warm = await loadModel(null, { hf });
    assert(warm.fromCache && (await statsNow()).model === before, 'HF model not served from the cache');
    const bad = await loadModel(null, { hf: { ...hf, endpoint: `${base}hf-truncated` }, expectError: true });
    assert(/truncated/.test(bad.error) && /model\.safetensors/.test(bad.error), `unclear: ${bad.error}`);
    const keys = await cachedKeys();
    const leftovers = [...keys.manifests, ...keys.chunks].filter((k) => /hf-truncated/.test(k));
    assert(leftovers.length === 0, `truncated safetensors left cache entries: ${leftovers}`);
    await page.check('#source-gguf');
  });

  await check('a camera snapshot, a pasted and a dropped image join the gallery and are embedded', async () => {
    await openApp();
    await loadModel(`models/${MODEL}`);
    await page.click('#camera-open');
    await page.waitForFunction(() => document.querySelector('.camera-view video')?.videoWidth > 0, null, { timeout: 15_000 });
    await page.click('#camera-snap');
    await page.waitForSelector('#gallery li[data-name="camera-1.png"][data-state="embedded"]', { timeout: 30_000 });
    await page.click('#camera-close');
    // A paste event carrying an image file, as a screenshot paste does.
    await page.evaluate(async () => {
      const c = document.createElement('canvas');
      c.width = 64; c.height = 48;
      const g = c.getContext('2d');
      g.fillStyle = '#c33'; g.fillRect(0, 0, 64, 48);
      const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
      const dt = new DataTransfer();
      dt.items.add(new File([blob], 'pasted.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
    });
    await page.waitForSelector('#gallery li[data-name="pasted.png"][data-state="embedded"]', { timeout: 30_000 });
    // Drag and drop onto the drop zone.
    const png = readFileSync(join(fixtures, 'coffee.png')).toString('base64');
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped coffee.png', { type: 'image/png' }));
      document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, png);
    await page.waitForSelector('#gallery li[data-name="dropped coffee.png"][data-state="embedded"]', { timeout: 30_000 });
  });

  await check('cancel stops a long batch; finished results are kept', async () => {
    await openApp();
    await loadModel(`models/${MODEL}`);
    // Long enough that a slow, loaded machine still finds the batch running when it clicks.
    const N = 400;
    const many = [];
    for (let i = 0; i < N; i++) {
      const p = join(work, `copy_${i}.png`);
      copyFileSync(join(fixtures, 'astronaut.png'), p);
      many.push(p);
    }
    await addImages(many);
    // Cancel once some are done, to check they are kept: clicked inside the page as soon as
    // the first image is embedded (a click from here arrived after the fused engine had
    // finished all 400 tiny-model images).
    await page.evaluate(() => new Promise((resolve, reject) => {
      let obs = null;
      const tryCancel = () => {
        if (!document.querySelector('#gallery li[data-state="embedded"]')) return false;
        obs?.disconnect();
        const b = document.querySelector('#cancel');
        if (!b) reject(new Error('no Cancel button right after the first image'));
        else { b.click(); resolve(); }
        return true;
      };
      if (tryCancel()) return;
      obs = new MutationObserver(tryCancel);
      obs.observe(document.body, { subtree: true, childList: true, attributes: true });
      setTimeout(() => reject(new Error('no image embedded in 60 s')), 60_000);
    }));
    await page.waitForFunction(() => !document.querySelector('#cancel'), null, { timeout: 60_000 });
    const embedded = await page.locator('#gallery li[data-state="embedded"]').count();
    const queued = await page.locator('#gallery li[data-state="queued"]').count();
    console.log(`     cancelled after ${embedded} of ${N}`);
    assert(embedded > 0 && queued > 0 && embedded + queued === N, `embedded ${embedded}, queued ${queued}`);
    const notices = await page.locator('#notices').textContent();
    assert(/cancelled/.test(notices), `no cancel notice: ${notices}`);
  });

  await check('a crashed engine is reported and a fresh one starts; cached models can be deleted', async () => {
    await openApp();
    await loadModel(`models/${MODEL}`);
    // What the worker's panic hook posts, sent from inside the worker.
    const worker = await mainEngine();
    await worker.evaluate(() => postMessage({ msg: { type: 'panicked', message: 'test panic' }, buffers: [] }));
    await page.waitForSelector('#restart-worker', { timeout: 10_000 });
    const status = await page.locator('#worker-status').textContent();
    assert(/stopped.*test panic/.test(status), `crash not reported: ${status}`);
    assert(await page.locator('#model-ready').count() === 0, 'a crashed engine has no model');
    await page.click('#restart-worker');
    await page.waitForFunction(
      () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'));
    const again = await loadModel(`models/${MODEL}`);
    assert(again.fromCache, 'the fresh worker starts from the cache');
    // An uncaught error in the worker (what an out-of-memory trap looks like).
    await (await mainEngine()).evaluate(() => setTimeout(() => { throw new Error('boom'); }));
    await page.waitForSelector('#restart-worker', { timeout: 10_000 });
    await page.click('#restart-worker');
    await page.waitForFunction(
      () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'));
    // Delete through the cache list.
    await page.click('details.cache summary');
    const key = `gguf:models/${MODEL}`;
    await page.click(`#cache-list li[data-key="${key}"] button`);
    await page.waitForFunction((k) => !document.querySelector(`#cache-list li[data-key="${k}"]`), key);
    const keys = await cachedKeys();
    assert(!keys.manifests.includes(key) && !keys.chunks.some((c) => c.startsWith(key + '\u0000')),
      'delete left data behind');
  });
  await check('two tabs load the same new model at once: one download, the second reads the first one\'s copy', async () => {
    await openApp();
    const page2 = await context.newPage();
    try {
      await page2.goto(base, { waitUntil: 'load' });
      await page2.waitForFunction(
        () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'), null, { timeout: 60_000 });
      const url = `slow/${MODEL}?two-tabs`; // a key nothing has cached yet
      const path = `/slow/${MODEL}`;
      const before = (await statsNow()).byPath[path] || 0;
      for (const p of [page, page2]) {
        await p.check('#source-gguf');
        await p.fill('#model-url', url);
      }
      await Promise.all([page.click('#load-model'), page2.click('#load-model')]);
      for (const p of [page, page2]) await p.waitForSelector('#model-ready', { timeout: 60_000 });
      const downloads = (await statsNow()).byPath[path] - before;
      const fromCache = await Promise.all([page, page2].map((p) =>
        p.locator('#model-ready').getAttribute('data-from-cache')));
      const waited = await Promise.all([page, page2].map((p) => p.locator('#notices').textContent()));
      assert(downloads === 1, `${downloads} downloads for two tabs (from cache: ${fromCache}; notices: ${waited})`);
      assert(fromCache.filter((c) => c === 'true').length === 1, `from cache: ${fromCache}`);
      assert(waited.some((t) => /another tab is loading this model/.test(t)), `no waiting notice: ${waited}`);
    } finally {
      await page2.close();
    }
  });

  await check('the engine dies mid-batch: finished results stay, the rest are embedded after a restart', async () => {
    await openApp();
    await loadModel(`models/${MODEL}`);
    const many = Array.from({ length: 40 }, (_, i) => {
      const p = join(work, `crash-${String(i).padStart(2, '0')}.png`);
      copyFileSync(join(fixtures, IMAGES[i % 3]), p);
      return p;
    });
    await addImages(many);
    await page.waitForFunction(() => document.querySelectorAll('#gallery li[data-state="embedded"]').length >= 5);
    // An uncaught error inside the engine (what an out-of-memory trap looks like).
    await (await mainEngine()).evaluate(() => setTimeout(() => { throw new Error('boom mid-batch'); }));
    await page.waitForSelector('#restart-worker', { timeout: 10_000 });
    const done = await page.locator('#gallery li[data-state="embedded"]').evaluateAll((ls) => ls.map((l) => l.dataset.name));
    assert(done.length >= 5 && done.length < 40, `embedded before the crash: ${done.length}`);
    await page.click('#restart-worker');
    await page.waitForFunction(
      () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'));
    await loadModel(`models/${MODEL}`);
    await waitEmbedded();
    const after = await page.locator('#gallery li').evaluateAll((ls) => ls.map((l) => [l.dataset.name, l.dataset.state]));
    const states = Object.fromEntries(after);
    assert(done.every((n) => states[n] === 'embedded'), 'finished results were lost');
    const notEmbedded = after.filter(([, st]) => st !== 'embedded');
    assert(notEmbedded.length === 0, `after the restart: ${JSON.stringify(notEmbedded)}`);
    console.log(`     ${done.length} of 40 finished before the crash, kept; the rest embedded after the restart`);
  });

  await check('the bad-input corpus: each file gets its stated outcome in the gallery, alone', async () => {
    const dir = join(root, 'tests/fixtures/bad-inputs');
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    await loadModel(`models/${MODEL}`);
    await page.evaluate(() => document.querySelectorAll('#gallery li').length); // settle
    await addImages(Object.keys(expected).map((n) => join(dir, n)));
    await waitEmbedded();
    const got = Object.fromEntries(await page.locator('#gallery li').evaluateAll((ls) =>
      ls.map((l) => [l.dataset.name, { state: l.dataset.state, text: l.querySelector('.state')?.textContent || '' }])));
    const wrong = Object.entries(expected).filter(([name, want]) => {
      const g = got[name];
      return !g || (want.error ? !(g.state === 'failed' && g.text.includes(want.error)) : g.state !== 'embedded');
    }).map(([name, want]) => `${name}: want ${want.error ? `error "${want.error}"` : 'embedded'}, got ${JSON.stringify(got[name])}`);
    assert(wrong.length === 0, wrong.join('\n'));
    console.log(`     ${Object.keys(expected).length} kinds: ${Object.values(expected).filter((w) => w.error).length} clear errors, the rest embedded`);
  });

  await check('extra image workers share a batch (results equal the CLI); one dying mid-batch loses nothing', async () => {
    // A 4-core device (3 extra workers), whatever this machine has.
    const p2 = await context.newPage();
    try {
      await p2.addInitScript(() => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 4 }));
      const fetched = async () => (await statsNow()).byPath[`/models/${MODEL}`] || 0;
      const before = await fetched();
      await p2.goto(base, { waitUntil: 'load' });
      await p2.waitForFunction(
        () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'), null, { timeout: 60_000 });
      await p2.check('#source-gguf');
      await p2.fill('#model-url', `models/${MODEL}`);
      await p2.click('#load-model');
      await p2.waitForSelector('#image-workers[data-ready="3"]', { timeout: 60_000 });
      const names = await Promise.all(p2.workers().map((w) => w.evaluate(() => self.name)));
      assert(names.filter((n) => n.startsWith('siglens-images-')).length === 3, `workers: ${names}`);
      // Every engine read the cached copy: no download, no second cache entry.
      assert(await fetched() === before, `the image workers downloaded the model (${await fetched() - before} times)`);
      const keys = await cachedKeys();
      assert(keys.manifests.every((k) => !(k.startsWith('gguf:') && k.includes('://'))), `an entry under a resolved URL: ${keys.manifests}`);
      // 24 images: 6 per engine.
      const files = Array.from({ length: 24 }, (_, i) => {
        const p = join(work, `pool-${String(i).padStart(2, '0')}-${IMAGES[i % IMAGES.length]}`);
        copyFileSync(join(fixtures, IMAGES[i % IMAGES.length]), p);
        return p;
      });
      await p2.setInputFiles('#image-input', files);
      await p2.waitForSelector('p.busy', { timeout: 10_000 });
      const busy = await p2.locator('p.busy').textContent();
      assert(/embedding 24 images on 4 engines/.test(busy), `not shared: ${busy}`);
      await p2.waitForFunction(() => document.querySelectorAll('#gallery li[data-state="embedded"]').length === 24, null, { timeout: 120_000 });
      const [download] = await Promise.all([p2.waitForEvent('download'), p2.click('#export-json')]);
      const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
      const nativeEmb = cli(['embed', '--model', modelFile, ...IMAGES.flatMap((f) => ['--image', join(fixtures, f)])]);
      const want = Object.fromEntries(nativeEmb.images.map((n) => [n.image.split('/').pop(), n.embedding]));
      let worst = 0;
      for (const x of exported.images) {
        const ref = want[x.image.replace(/^pool-\d\d-/, '')];
        x.embedding.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - ref[i])); });
      }
      console.log(`     24 images on 4 engines: max |browser - native| = ${worst.toExponential(2)}`);
      assert(exported.images.length === 24 && worst <= BAR, `pool results differ by ${worst}`);

      // An image worker dies mid-batch: its unfinished images go to the engines left.
      const more = Array.from({ length: 60 }, (_, i) => {
        const p = join(work, `pool2-${String(i).padStart(2, '0')}.png`);
        copyFileSync(join(fixtures, 'astronaut.png'), p);
        return p;
      });
      await p2.setInputFiles('#image-input', more);
      await p2.waitForFunction(() => document.querySelectorAll('#gallery li[data-state="embedded"]').length >= 28);
      const helper = (await Promise.all(p2.workers().map(async (w) => [w, await w.evaluate(() => self.name)])))
        .find(([, n]) => n.startsWith('siglens-images-'))[0];
      await helper.evaluate(() => setTimeout(() => { throw new Error('boom in an image worker'); }));
      await p2.waitForFunction(() => document.querySelectorAll('#gallery li[data-state="embedded"]').length === 84, null, { timeout: 120_000 });
      const notices = await p2.locator('#notices').textContent();
      assert(/an image worker stopped/.test(notices), `no notice: ${notices}`);
      assert(await p2.locator('#image-workers[data-ready="2"]').count() === 1, 'the dead worker is still counted');

      // An image worker only reads the cache: asked for a model that is not cached, it fails
      // with a clear error and downloads nothing (the main engine owns downloads and repair).
      const live = (await Promise.all(p2.workers().map(async (w) => [w, await w.evaluate(() => self.name)])))
        .find(([, n]) => n.startsWith('siglens-images-'))[0];
      const fetchedBefore = await fetched();
      const replies = await live.evaluate(async (url) => {
        const got = [];
        const post = self.postMessage;
        self.postMessage = function (m, t) { if (m?.msg?.id === 4242) got.push(m.msg); return post.call(this, m, t); };
        const request = { type: 'load_model', source: { kind: 'gguf', url }, base: location.href, vision_only: true, cache_only: true };
        self.onmessage(new MessageEvent('message', { data: { msg: { id: 4242, request }, buffers: [] } }));
        for (let i = 0; i < 400 && !got.some((m) => m.type === 'failed' || m.type === 'done'); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        self.postMessage = post;
        return got;
      }, `${base}models/${MODEL}?never-cached`);
      const end = replies.find((m) => m.type === 'failed' || m.type === 'done');
      assert(end?.type === 'failed' && end.error.kind === 'storage' && /only reads the cache/.test(end.error.message),
        `cache-only load of an uncached model: ${JSON.stringify(replies)}`);
      assert(await fetched() === fetchedBefore, 'the image worker downloaded the model');
    } finally {
      await p2.close();
    }
  });

  await check('the speed test times the loaded model per batch size and for labels; bad batch sizes are refused', async () => {
    await openApp();
    await loadModel(`models/${MODEL}`);
    await page.click('details.speed summary');
    await page.fill('#bench-batches', 'eight');
    await page.click('#bench-run');
    const err = await page.locator('details.speed .error').textContent();
    assert(/"eight" is not a batch size/.test(err), `no clear error: ${err}`);
    await page.fill('#bench-batches', '1, 24');
    await page.fill('#bench-labels', '4');
    await page.fill('#bench-runs', '3');
    await page.click('#bench-run');
    await page.waitForSelector('#bench-result tbody tr[data-kind="labels"]', { timeout: 60_000 });
    const rows = await page.locator('#bench-result tbody tr').evaluateAll((trs) =>
      trs.map((t) => [t.dataset.kind, Number(t.dataset.n), Number(t.dataset.medianS), Number(t.dataset.minS)]));
    assert(JSON.stringify(rows.map((r) => r.slice(0, 2))) === JSON.stringify([['images', 1], ['images', 24], ['labels', 4]]),
      `rows: ${JSON.stringify(rows)}`);
    assert(rows.every(([, , med, min]) => med > 0 && min > 0 && min <= med), `timings: ${JSON.stringify(rows)}`);
    // 24 images take longer than one (the timings are of real work, not of messages). The
    // fastest runs are compared, 24x apart in work: a loaded machine only slows runs down
    // (batch 3 against 1 by median once came out backwards while other work ran).
    assert(rows[1][3] > rows[0][3], `batch 24 (${rows[1][3]} s) not slower than batch 1 (${rows[0][3]} s)`);
  });

  // Faults injected inside the engine worker (the browser cannot be made to run out of
  // quota on demand: Chromium 156 ignores CDP's quota override). Each patch lives only in
  // that worker; a page reload starts an unpatched one.
  const engine = mainEngine;
  const noticesText = () => page.locator('#notices').textContent();

  await check('IndexedDB unavailable (blocked storage, private browsing): memory only, with a notice', async () => {
    await openApp();
    await (await engine()).evaluate(() => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('Access to the IndexedDB API is denied in this context.', 'SecurityError');
      };
    });
    const before = await cachedKeys();
    const url = `models/${MODEL}?no-indexeddb`;
    const ready = await loadModel(url);
    assert(!ready.fromCache, 'nothing could have come from a cache');
    const notices = await noticesText();
    assert(/IndexedDB is not available.*kept in memory only/s.test(notices) || /denied.*kept in memory only/s.test(notices),
      `no memory-only notice: ${notices}`);
    await addImages([join(fixtures, 'chelsea.png')]);
    await waitEmbedded();
    const state = await page.locator('#gallery li').last().getAttribute('data-state');
    assert(state === 'embedded', `the model works from memory: ${state}`);
    const after = await cachedKeys();
    assert(JSON.stringify(after) === JSON.stringify(before), 'the cache changed although it was unavailable');
  });

  for (const [what, failOn] of [['a chunk', 'chunks'], ['the manifest (the last write)', 'manifests']]) {
    await check(`the quota fills while ${what} is written: a notice, the model works, nothing half-stored, other models kept`, async () => {
      await openApp();
      const before = await cachedKeys();
      assert(before.manifests.includes(`gguf:models/${MODEL}`), 'the earlier cached model is missing');
      await (await engine()).evaluate((store) => {
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (...args) {
          if (this.name === store) {
            throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          }
          return put.apply(this, args);
        };
      }, failOn);
      const key = `models/${MODEL}?quota-${failOn}`;
      const ready = await loadModel(key);
      assert(!ready.fromCache, 'fresh download expected');
      const notices = await noticesText();
      assert(/quota.*loaded for this session only/s.test(notices), `no quota notice: ${notices}`);
      await addImages([join(fixtures, 'coffee.png')]);
      await waitEmbedded();
      const after = await cachedKeys();
      assert(!after.manifests.includes(`gguf:${key}`), 'a manifest was written for a failed store');
      assert(!after.chunks.some((c) => c.startsWith(`gguf:${key}\u0000`)), 'chunks of the failed store were left behind');
      assert(JSON.stringify(after) === JSON.stringify(before), `other entries changed: ${JSON.stringify(after)}`);
      // The model that was already stored still loads from the cache, intact.
      await openApp();
      const again = await loadModel(`models/${MODEL}`);
      assert(again.fromCache, 'the earlier model no longer loads from the cache');
    });
  }

  await check('privacy: every request of the visit stayed on the app\'s origin, under its sub-path', async () => {
    const local = (u) => u.startsWith('blob:') || u.startsWith('data:');
    const offsite = requested.filter((u) => !local(u) && new URL(u).origin !== origin);
    assert(offsite.length === 0, `requests to other origins:\n${offsite.join('\n')}`);
    assert(stats.outside.length === 0, `requests outside ${base}: ${stats.outside}`);
    // The recorder sees the engine worker's own requests (its wasm, model downloads) too.
    assert(requested.some((u) => u.endsWith('/worker_bg.wasm')) && requested.some((u) => u.includes('/models/')),
      'the recorder missed the worker\'s requests');
    console.log(`     ${requested.length} requests, all to ${base}`);
  });
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

const unexpected = problems.filter((p) => !/Failed to load resource|net::ERR|boom/.test(p));
if (unexpected.length) {
  console.log(`console errors:\n  ${unexpected.join('\n  ')}`);
  fail();
}
console.log(failed() ? `${failed()} browser test(s) failed` : 'all browser runtime tests passed');
process.exit(failed() ? 1 : 0);

// Trunk post_build hook (Trunk.toml): finishes the build in TRUNK_STAGING_DIR for static
// hosting and offline use.
//  1. Adds the SHA-256 of each inline <script> Trunk wrote to the Content-Security-Policy's
//     script-src (a static host cannot send nonces), and extra connect-src origins from
//     SIGLENS_CONNECT_SRC (space separated) plus the origin of an absolute SIGLENS_MODEL_URL.
//  2. Writes sw.js from public/sw.js with this build's id, the list of app shell files and the app's relaxed-SIMD probe.
//     The id is a hash of every shell file, so any changed asset makes a new service worker
//     and a new cache; the model folder is left to IndexedDB.
// Usage (by hand): TRUNK_STAGING_DIR=dist node tools/make-service-worker.mjs
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error('TRUNK_STAGING_DIR is not set (this runs as a Trunk post_build hook)');
  process.exit(2);
}

// 1. CSP
const indexPath = join(staging, 'index.html');
let html = readFileSync(indexPath, 'utf8');
const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
  .map(([, body]) => `'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
const extraConnect = (process.env.SIGLENS_CONNECT_SRC || '').split(/\s+/).filter(Boolean);
const modelUrl = process.env.SIGLENS_MODEL_URL || '';
if (/^https?:\/\//.test(modelUrl)) extraConnect.push(new URL(modelUrl).origin);
const meta = /(<meta http-equiv="Content-Security-Policy" content=")([^"]*)(")/;
if (!meta.test(html)) {
  console.error('index.html has no Content-Security-Policy meta tag');
  process.exit(1);
}
html = html.replace(meta, (_, open, policy, close) => {
  const directives = policy.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name] = d.split(/\s+/);
    // Idempotent: running it again on a finished build adds nothing twice.
    const add = (extra) => [d, ...extra.filter((x) => !d.split(/\s+/).includes(x))].join(' ');
    if (name === 'script-src') return add(hashes);
    if (name === 'connect-src') return add(extraConnect);
    return d;
  });
  return `${open}${directives.join('; ')}${close}`;
});
writeFileSync(indexPath, html);

// 2. Service worker
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}
const shell = files(staging)
  .map((p) => relative(staging, p).split(sep).join('/'))
  .filter((p) => !p.startsWith('models/') && p !== 'sw.js')
  .sort();
const id = createHash('sha256');
for (const p of shell) id.update(p).update('\0').update(readFileSync(join(staging, p)));
const build = id.digest('hex').slice(0, 16);
const sw = readFileSync(join(root, 'public/sw.js'), 'utf8')
  .replace("'__SIGLENS_BUILD__'", JSON.stringify(build))
  .replace("['__SIGLENS_SHELL__']", JSON.stringify(shell))
  // The app's relaxed-SIMD probe (src/web/client.rs), so both pick the same worker build.
  .replace("['__SIGLENS_RELAXED_SIMD_PROBE__']",
    JSON.stringify([...readFileSync(join(root, 'src/web/relaxed-simd-probe.wasm'))]));
writeFileSync(join(staging, 'sw.js'), sw);
console.log(`service worker: build ${build}, ${shell.length} shell files; CSP: ${hashes.length} inline script hash(es)`);

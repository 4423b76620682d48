// IndexedDB read throughput in headless Chromium by value type: N chunks of MB MiB stored as
// Uint8Array values or as Blobs, then read back (4 reads in flight, Blobs through
// arrayBuffer()) after a reload, twice each. Why the model cache stores Blobs.
// Usage: node tools/bench-idb-values.mjs   env: N=50 MB=8
import { chromium } from 'playwright-core';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const srv = http.createServer((q, r) => { r.setHeader('content-type', 'text/html'); r.end('<html><body>x</body></html>'); });
await new Promise((r) => srv.listen(0, r));
const url = `http://127.0.0.1:${srv.address().port}/`;
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'siglens-idb-')), { executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = ctx.pages()[0] ?? await ctx.newPage();
await page.goto(url);
const N = Number(process.env.N || 50), MB = Number(process.env.MB || 8);
for (const kind of ['u8', 'blob', 'u8', 'blob']) {
  await page.goto(url);
  await page.evaluate(async ({ N, MB, kind }) => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open('b-' + kind, 1); r.onupgradeneeded = () => r.result.createObjectStore('c'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    let s = 12345;
    for (let i = 0; i < N; i++) {
      const a = new Uint8Array(MB << 20); const v = new Uint32Array(a.buffer);
      for (let j = 0; j < v.length; j++) { s = (s * 1664525 + 1013904223) >>> 0; v[j] = s; }
      const val = kind === 'blob' ? new Blob([a]) : a;
      await new Promise((res, rej) => { const tx = db.transaction('c', 'readwrite'); tx.objectStore('c').put(val, i); tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
    }
    db.close();
  }, { N, MB, kind });
  await page.goto(url);
  const ms = await page.evaluate(async ({ N, kind }) => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open('b-' + kind, 1); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const get = (i) => new Promise((res, rej) => { const tx = db.transaction('c', 'readonly'); const q = tx.objectStore('c').get(i); q.onsuccess = () => res(q.result); q.onerror = () => rej(q.error); });
    const t0 = performance.now();
    const inflight = []; let next = 0; let bytes = 0;
    while (next < Math.min(4, N)) inflight.push(get(next++));
    for (let i = 0; i < N; i++) {
      let v = await inflight.shift();
      if (next < N) inflight.push(get(next++));
      if (v instanceof Blob) v = new Uint8Array(await v.arrayBuffer());
      bytes += v.byteLength;
    }
    const t = performance.now() - t0;
    db.close();
    return [t, bytes];
  }, { N, kind });
  console.log(kind, `${(ms[1] / 2 ** 20).toFixed(0)} MB in ${ms[0].toFixed(0)} ms = ${(ms[1] / 2 ** 20 / ms[0] * 1000).toFixed(0)} MB/s`);
}
await ctx.close(); srv.close();

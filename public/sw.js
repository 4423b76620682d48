// siglens service worker (template: tools/make-service-worker.mjs fills in the build id and
// the shell list at build time). It keeps one build's app shell in one cache so the app
// starts with no network, and never serves files of two builds to one page:
// - install: fetch every shell file of this build, bypassing the HTTP cache;
// - the new build waits while pages of the old one are open; a page asks it to take over
//   (message 'skip-waiting') only when it has no work to lose, then reloads;
// - activate: delete the other builds' caches.
// Models are not handled here: they live in IndexedDB (worker/src/cache.rs).
const BUILD = '__SIGLENS_BUILD__';
const SHELL = ['__SIGLENS_SHELL__'];
const CACHE = `siglens-shell-${BUILD}`;

// The engine worker is built twice (index.html): the app loads `worker-relaxed` where this
// module, which uses relaxed SIMD, validates (src/web/relaxed-simd-probe.wasm, the app's probe
// too, filled in at build time), else
// `worker`. Only that build is precached: the other would never be asked for here.
const RELAXED_SIMD_PROBE = new Uint8Array(['__SIGLENS_RELAXED_SIMD_PROBE__']);
const UNUSED_WORKER = WebAssembly.validate(RELAXED_SIMD_PROBE) ? /^worker[._]/ : /^worker-relaxed[._]/;
const PRECACHE = SHELL.filter((p) => !UNUSED_WORKER.test(p));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(
    PRECACHE.map((p) => new Request(new URL(p, self.registration.scope), { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('siglens-shell-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'skip-waiting') self.skipWaiting();
  if (event.data?.type === 'build') event.source?.postMessage({ type: 'build', build: BUILD });
});

/** The shell file a request is for, or null for anything else (left to the network). */
function shellPath(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  const scope = self.registration.scope;
  if (!url.href.startsWith(scope)) return null;
  const path = url.pathname.slice(new URL(scope).pathname.length);
  if (request.mode === 'navigate') return path === '' || path === 'index.html' ? 'index.html' : null;
  return SHELL.includes(path) ? path : null;
}

self.addEventListener('fetch', (event) => {
  const path = shellPath(event.request);
  if (!path) return;
  event.respondWith((async () => {
    const hit = await caches.match(new URL(path, self.registration.scope), { cacheName: CACHE });
    if (!hit) return fetch(event.request); // only while this build is still installing
    // Tagged with the build, so tests (and curious users) can see which build served it.
    const headers = new Headers(hit.headers);
    headers.set('x-siglens-build', BUILD);
    return new Response(hit.body, { status: hit.status, statusText: hit.statusText, headers });
  })());
});

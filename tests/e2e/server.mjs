// Static server for the browser tests, serving everything under a sub-path (PREFIX,
// default /siglens/, as GitHub Pages serves a project) and nothing at the root: the Trunk
// build at PREFIX, models with HTTP Range at PREFIX/models/, and fault injection under
// other folders (paths below are relative to PREFIX):
//   /slow/F      serves models/F slowly (so progress is visible)
//   /flaky/F     first request drops the connection half way; Range requests work
//   /norange/F   first request drops half way; Range is ignored (always 200 from 0)
//   /truncated/F sends the first half with a matching Content-Length (a short file)
//   /hf/REPO/resolve/REV/F          a Hugging Face style repo: F from HF_ROOT/basename(REPO)
//   /hf-slow/REPO/resolve/REV/F       the same, model.safetensors served slowly
//   /hf-truncated/REPO/resolve/REV/F  the same, with model.safetensors cut in half
// /__stats returns request counts (and `outside`: paths asked for outside PREFIX);
// /__models?on=0|1 switches every model route off (the socket is destroyed, as if the host
// were gone) or on. The returned `setDist(dir)` serves another build (an update) and
// `setSite(on)` takes the whole site off the network or back.
import { createServer } from 'node:http';
import { createReadStream, readFileSync, existsSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.gguf': 'application/octet-stream',
};

export function startServer({ dist, models, hfRoot, port = 0, prefix = '/siglens/' }) {
  const stats = { model: 0, range: 0, byPath: {}, outside: [] };
  const dropped = new Set();
  let modelsOn = true;
  let siteOn = true;

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let path = decodeURIComponent(url.pathname);
    if (path.startsWith(prefix)) {
      path = `/${path.slice(prefix.length)}`;
    } else if (!path.startsWith('/__')) {
      stats.outside.push(path);
      res.statusCode = 404;
      return res.end('not found (the app lives under its sub-path)');
    }
    if (!siteOn && !path.startsWith('/__')) return req.socket.destroy();
    if (path === '/__stats') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(stats));
    }
    if (path === '/__models') {
      modelsOn = url.searchParams.get('on') !== '0';
      return res.end('ok');
    }
    const hf = path.match(/^\/(hf|hf-slow|hf-truncated)\/(.+)\/resolve\/([^/]+)\/([^/]+)$/);
    const hfMode = { hf: 'models', 'hf-slow': 'slow', 'hf-truncated': 'truncated' };
    const m = hf
      ? [null, hf[4] === 'model.safetensors' ? hfMode[hf[1]] : 'models', hf[4]]
      : path.match(/^\/(models|slow|flaky|norange|truncated)\/([^/]+)$/);
    if (m) {
      const [, mode, name] = m;
      const dir = hf ? join(hfRoot, hf[2].split('/').pop()) : models;
      stats.model += 1;
      stats.byPath[path] = (stats.byPath[path] || 0) + 1;
      if (!modelsOn) return req.socket.destroy();
      const file = join(dir, name);
      if (!existsSync(file)) {
        res.statusCode = 404;
        return res.end('not found');
      }
      const size = statSync(file).size;
      if (mode === 'models' && size > (64 << 20)) {
        // Big files (benchmarks) are streamed, with Range.
        const r = req.headers.range?.match(/^bytes=(\d+)-$/);
        const from = r ? Number(r[1]) : 0;
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('accept-ranges', 'bytes');
        if (r) {
          res.statusCode = 206;
          res.setHeader('content-range', `bytes ${from}-${size - 1}/${size}`);
        }
        res.setHeader('content-length', size - from);
        return createReadStream(file, { start: from }).pipe(res);
      }
      const body = readFileSync(file);
      const range = req.headers.range?.match(/^bytes=(\d+)-$/);
      if (range) stats.range += 1;
      res.setHeader('content-type', 'application/octet-stream');
      if (range && mode !== 'norange') {
        const from = Number(range[1]);
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${from}-${body.length - 1}/${body.length}`);
        res.setHeader('content-length', body.length - from);
        return res.end(body.subarray(from));
      }
      res.setHeader('accept-ranges', mode === 'norange' ? 'none' : 'bytes');
      if (mode === 'truncated') {
        const half = body.subarray(0, body.length >> 1);
        res.setHeader('content-length', half.length);
        return res.end(half);
      }
      res.setHeader('content-length', body.length);
      if ((mode === 'flaky' || mode === 'norange') && !dropped.has(path)) {
        dropped.add(path);
        res.write(body.subarray(0, body.length >> 1));
        return setTimeout(() => req.socket.destroy(), 50);
      }
      if (mode === 'slow') {
        let at = 0;
        const step = Math.max(1024, body.length >> 5);
        const tick = () => {
          if (at >= body.length) return res.end();
          res.write(body.subarray(at, at + step));
          at += step;
          setTimeout(tick, 40);
        };
        return tick();
      }
      return res.end(body);
    }
    let rel = normalize(path).replace(/^(\.\.[/\\])+/, '');
    if (rel.endsWith('/')) rel += 'index.html';
    const file = join(dist, rel);
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      return res.end('not found');
    }
    res.setHeader('content-type', TYPES[extname(file)] || 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      resolve({
        server,
        stats,
        url: `http://127.0.0.1:${server.address().port}${prefix}`,
        origin: `http://127.0.0.1:${server.address().port}`,
        setDist: (d) => { dist = d; },
        setSite: (on) => { siteOn = on; },
      });
    });
  });
}

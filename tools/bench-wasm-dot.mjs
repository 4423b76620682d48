// How fast V8 runs the int8 kernels' dot instructions, apart from any kernel: loops of N
// independent accumulator chains of `i32x4.relaxed_dot_i8x16_i7x16_add_s` (relaxed SIMD) or
// `i32x4.add(dot_i16x8_s)` (simd128) on register operands, in headless Chromium, as G
// instructions a second (best of 5). One chain gives the latency, many the issue rate.
// A chain of dependent `i64.mul` (x64 `imul`, 3 cycles each) gives the clock they run at.
//
// Usage: node tools/bench-wasm-dot.mjs   (needs node_modules/.bin/wasm-as from npm binaryen)
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'siglens-dot-'));
const wat = (n, relaxed) => {
  const a = (i) => `(local.get $a${i})`;
  const step = (i) => relaxed
    ? `(local.set $a${i} (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w) (local.get $x) ${a(i)}))`
    : `(local.set $a${i} (i32x4.add ${a(i)} (i32x4.dot_i16x8_s (local.get $w) (local.get $x))))`;
  let sum = a(0);
  for (let i = 1; i < n; i++) sum = `(i32x4.add ${sum} ${a(i)})`;
  return `(module (memory 1)
 (func (export "k") (param $n i32) (result i32) (local $w v128) (local $x v128)
  ${Array.from({ length: n }, (_, i) => `(local $a${i} v128)`).join(' ')}
  (local.set $w (v128.load (i32.const 0))) (local.set $x (v128.load (i32.const 16)))
  (loop $l ${Array.from({ length: n }, (_, i) => step(i)).join(' ')}
   (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))
  (i32x4.extract_lane 0 ${sum})))`;
};
const mods = [];
// The clock: `$x = $x * $x` in a chain, 8 a loop step; its rate x 3 cycles is the GHz.
const clock = `(module (func (export "k") (param $n i32) (result i32) (local $x i64)
  (local.set $x (i64.extend_i32_u (local.get $n)))
  (loop $l ${'(local.set $x (i64.mul (local.get $x) (local.get $x))) '.repeat(8)}
   (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))
  (i32.wrap_i64 (local.get $x))))`;
for (const n of [1, 4, 8, 10, 12]) {
  for (const relaxed of [true, false]) {
    const f = join(dir, 'm.wat');
    writeFileSync(f, wat(n, relaxed));
    execFileSync('node_modules/.bin/wasm-as', ['--enable-simd', '--enable-relaxed-simd', f, '-o', `${f}.wasm`]);
    mods.push({ name: `${relaxed ? 'relaxed_dot_i8x16_i7x16_add' : 'dot_i16x8 + add'}, ${n} chains`, n, bytes: [...readFileSync(`${f}.wasm`)] });
  }
}
{
  const f = join(dir, 'clock.wat');
  writeFileSync(f, clock);
  execFileSync('node_modules/.bin/wasm-as', [f, '-o', `${f}.wasm`]);
  mods.push({ name: 'i64.mul, 1 chain (x 3 = the clock in GHz)', n: 8, bytes: [...readFileSync(`${f}.wasm`)] });
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  const rows = await page.evaluate(async (mods) => {
    const out = [];
    for (const m of mods) {
      const { instance } = await WebAssembly.instantiate(new Uint8Array(m.bytes));
      const k = instance.exports.k;
      k(1e6);
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        k(2e7);
        best = Math.min(best, performance.now() - t);
      }
      out.push(`| ${m.name} | ${(m.n * 2e7 / best / 1e6).toFixed(2)} |`);
    }
    return out;
  }, mods);
  console.log(`Chromium ${browser.version()}\n| loop | G dots/s |\n|---|---|\n${rows.join('\n')}`);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}

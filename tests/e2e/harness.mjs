// What both browser test files share: named checks that report ok/FAIL, keep going after a
// failure, and save a screenshot of the page that failed.
import { join } from 'node:path';

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/// `check(name, fn)` runs one check; `failed()` counts failures, `fail()` adds one.
export function checks(page, artifacts, prefix = '') {
  let failures = 0;
  async function check(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failures += 1;
      console.log(`FAIL ${name}: ${e.stack || e}`);
      await page.screenshot({ path: join(artifacts, `${prefix}${name.replace(/\W+/g, '_')}.png`) }).catch(() => {});
    }
  }
  return { check, failed: () => failures, fail: () => { failures += 1; } };
}

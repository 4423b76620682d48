// What both browser test files share: named checks that report ok/FAIL, keep going after a
// failure, and save a screenshot of the page that failed.
import { join } from 'node:path';

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/// `check(name, fn)` runs one check; `failed()` counts failures, `fail()` adds one.
/// `CHECKS=regex` in the environment runs only the checks whose names match (when working
/// on one: include the checks it builds on, e.g. the cold load that caches the model).
export function checks(page, artifacts, prefix = '') {
  let failures = 0;
  const only = process.env.CHECKS ? new RegExp(process.env.CHECKS) : null;
  async function check(name, fn) {
    if (only && !only.test(name)) return console.log(`skip ${name}`);
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

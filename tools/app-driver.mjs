// Driving the real app in headless Chromium, shared by the benchmark tools: start the
// browser, open the app, load a model through its model panel, drop fixture images on it.
import { chromium } from 'playwright-core';
import { copyFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const HOUR = 3_600_000;

/// Chromium with a fresh persistent profile (IndexedDB survives reloads within one run).
export function launchApp(profile) {
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/// Navigates to the app and waits for its engine worker.
export async function openApp(page, base) {
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForFunction(
    () => document.querySelector('#worker-status')?.textContent?.startsWith('Engine ready'), null, { timeout: 120_000 });
}

/// Clicks "load" (after the caller filled the source fields) and waits for the model;
/// a load error is thrown with the app's message. Returns the `#model-ready` locator.
export async function clickLoad(page, timeout = HOUR) {
  await page.click('#load-model');
  await page.waitForSelector('#model-ready, #model-error', { timeout });
  if (await page.locator('#model-error').count()) throw new Error(await page.locator('#model-error').textContent());
  return page.locator('#model-ready');
}

/// Opens the app and loads `models/FILE` (a GGUF served beside it).
export async function loadGguf(page, base, file) {
  await openApp(page, base);
  await page.check('#source-gguf');
  await page.fill('#model-url', `models/${file}`);
  return clickLoad(page);
}

/// The extra image workers load once the main engine has the model: wait for them, or
/// their load competes with the first timed runs for the cores.
export async function waitForImageWorkers(page) {
  if ((await page.evaluate(() => navigator.hardwareConcurrency)) > 1) await page.waitForSelector('#image-workers', { timeout: HOUR });
}

/// Drops `n` images (copies of the PNG / JPEG fixtures under fresh names in `work`) and
/// returns the seconds until all of them are embedded.
export async function dropFixtureImages(page, work, n, round) {
  const dir = resolve('tests/fixtures/images');
  const pics = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const files = Array.from({ length: n }, (_, i) => {
    const p = join(work, `r${round}-${String(i).padStart(3, '0')}-${pics[i % pics.length]}`);
    copyFileSync(join(dir, pics[i % pics.length]), p);
    return p;
  });
  const done0 = await page.locator('#gallery li[data-state="embedded"]').count();
  const t0 = Date.now();
  await page.setInputFiles('#image-input', files);
  await page.waitForFunction((want) => document.querySelectorAll('#gallery li[data-state="embedded"]').length >= want,
    done0 + n, { timeout: HOUR, polling: 100 });
  return (Date.now() - t0) / 1000;
}

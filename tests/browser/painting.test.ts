/**
 * Browser test of "Your painting" against the real stack with the arbitrary-style model:
 * upload a painting in Chromium, stylise a photo with it, move the strength slider (the
 * result is redone without choosing the photo again), compare before/after, download.
 * A screenshot goes to $TMPDIR/nst-ui-painting.png.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStack } from '../support/stack.ts';
import { startBrowserStack } from '../support/browser.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MIRROR = process.env.NST_DATA_MIRROR ?? resolve(ROOT, '../shared/data');
const PHOTO = join(MIRROR, 'images/content/val/101085.jpg');
const PAINTING = join(MIRROR, 'images/style/woman-with-hat-matisse.jpg');

describe('your painting in the browser', () => {
  let stack: TestStack;
  let browser: Browser;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ stack, browser, close } = await startBrowserStack({ models: ['model1=wave', 'custom=arbitrary'] }));
  }, 240_000);
  afterAll(async () => {
    await close?.();
  }, 60_000);

  it('uploads a painting, stylises with it, applies a new strength, and downloads', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(String(err)));
    await page.goto(`${stack.gatewayUrl}/`);

    await page.click('label[data-model="custom"]');
    expect(await page.locator('label[data-model="custom"] .style-title').innerText()).toBe('Your painting');
    expect(await page.isVisible('#painting-panel')).toBe(true);
    await page.setInputFiles('#file-input', PHOTO);
    expect(await page.isDisabled('#stylize-btn')).toBe(true); // no painting yet

    await page.setInputFiles('#painting-input', PAINTING);
    await page.waitForSelector('.painting-item[aria-checked="true"]');
    // The tile shows the painting as its thumbnail.
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('label[data-model="custom"] img');
      return !!img && img.complete && img.naturalWidth > 0 && img.src.includes('/api/styles/');
    });

    await page.click('#stylize-btn');
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#result-card')!.hidden && document.querySelector<HTMLImageElement>('#result-img')!.naturalWidth > 0, undefined, { timeout: 60_000 });
    const first = await page.getAttribute('#result-img', 'src');
    expect(await page.locator('#result-caption').innerText()).toContain('Your painting');
    expect(await page.locator('#result-meta').innerText()).toContain('strength 100%');

    // Strength slider: a new result at 40 % without choosing the photo again.
    await page.locator('#strength-range').fill('0.4');
    await page.locator('#strength-range').dispatchEvent('change');
    await page.waitForFunction((src) => document.querySelector<HTMLImageElement>('#result-img')!.getAttribute('src') !== src && document.querySelector('#result-meta')!.textContent!.includes('strength 40%'), first, { timeout: 60_000 });
    expect(await page.locator('#strength-value').innerText()).toBe('40%');

    // Before/after slider moves the split.
    await page.locator('#ba-range').fill('20');
    await page.screenshot({ path: join(tmpdir(), 'nst-ui-painting.png'), fullPage: true });
    expect(await page.evaluate(() => document.querySelector<HTMLElement>('#before-after')!.style.getPropertyValue('--split'))).toBe('20%');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
    const bytes = await readFile((await download.path())!);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('png');

    // The request used the uploaded painting at strength 0.4.
    const log = (await readFile(join(stack.storageDir, 'requests.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(log.at(-1)).toMatchObject({ model: 'custom', strength: 0.4 });
    expect(log.at(-1).style).toMatch(/^st_/);
    expect(problems).toEqual([]);
    await context.close();
  });
});

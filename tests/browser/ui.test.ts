/**
 * Browser test of the UI against the real stack (gateway + inference services on free
 * loopback ports), driving Debian's Chromium with playwright-core.
 *
 * Flow: thumbnails decode → upload a real photo → preview → pick a style → Stylise →
 * result decodes → Download gives a real PNG → feedback (with comment) is confirmed and
 * lands in <storage>/feedback.jsonl with model and version. Also: a text file renamed
 * .png shows the gateway's error message, keyboard use, and a 390x844 phone viewport
 * with no horizontal overflow. Screenshots go to $TMPDIR/nst-ui-*.png.
 */
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStack } from '../support/stack.ts';
import { startBrowserStack } from '../support/browser.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MIRROR = process.env.NST_DATA_MIRROR ?? resolve(ROOT, '../shared/data');
const PHOTO = join(MIRROR, 'images/content/val/101085.jpg');
const SHOTS = tmpdir();
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);



describe('browser UI against the real stack', () => {
  let stack: TestStack;
  let browser: Browser;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ stack, browser, close } = await startBrowserStack({ models: ['model1=wave', 'model2=udnie'] }));
  }, 240_000);

  afterAll(async () => {
    await close?.();
  }, 60_000);

  async function openPage(viewport: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ viewport, acceptDownloads: true, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
    });
    (page as Page & { problems?: string[] }).problems = problems;
    await page.goto(stack.gatewayUrl.replace(/\/$/, '') + '/');
    return page;
  }

  const problemsOf = (page: Page): string[] => (page as Page & { problems?: string[] }).problems ?? [];

  /** Waits until every style thumbnail has decoded; returns how many there are. */
  async function thumbnailsLoaded(page: Page): Promise<number> {
    await page.waitForSelector('.style-card img');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>('.style-card img')).every((img) => img.complete && img.naturalWidth > 0),
    );
    return page.locator('.style-card img').count();
  }

  it('stylises an uploaded photo, downloads it and records feedback', async () => {
    const page = await openPage({ width: 1280, height: 900 });
    expect(await page.locator('h1').innerText()).toContain('NST — neural style transfer');
    expect(await thumbnailsLoaded(page)).toBe(2);

    // Upload: preview shows the decoded photo.
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#preview-img');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    expect(await page.locator('#preview-caption').innerText()).toContain('321×481');

    // Pick the second style by clicking its card.
    await page.click('label[data-model="model2"]');
    expect(await page.isChecked('#style-model2')).toBe(true);

    const stylizeResponse = page.waitForResponse((r) => r.url().endsWith('/api/stylize'));
    await page.click('#stylize-btn');
    // Progress is shown while the request runs.
    await page.waitForSelector('#progress:not([hidden])', { timeout: 5_000 });
    expect(await page.getAttribute('#stylize-btn', 'aria-busy')).toBe('true');
    const res = await stylizeResponse;
    expect(res.status()).toBe(200);
    // The page asks for the progress stream: JSON lines ending with {"result": …}.
    const streamLines = (await res.text()).trim().split('\n');
    const result = (JSON.parse(streamLines.at(-1)!) as { result: { model: string; version: string; output_url: string } }).result;
    expect(result.model).toBe('model2');

    await page.waitForSelector('#result-card:not([hidden])', { timeout: 120_000 });
    await page.waitForFunction(
      () =>
        ['#result-img', '#original-img'].every((sel) => {
          const img = document.querySelector<HTMLImageElement>(sel);
          return !!img && img.complete && img.naturalWidth > 0;
        }),
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.locator('#stylize-status').innerText()).toMatch(/Done/);
    expect(await page.isHidden('#progress')).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'nst-ui-desktop-result.png'), fullPage: true });

    // Download: a real PNG with a sensible name.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
    expect(download.suggestedFilename()).toMatch(/^nst-udnie-\d{8}-\d{6}\.png$/);
    const file = await download.path();
    const bytes = await readFile(file);
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect((await stat(file)).size).toBeGreaterThan(1024);

    // Feedback: confirmation on the page, and the line in feedback.jsonl.
    const comment = `browser test ${Date.now()} — looks like a painting`;
    await page.getByRole('radio', { name: 'Bad' }).check();
    await page.fill('#feedback-comment', comment);
    expect(await page.locator('#comment-count').innerText()).toBe(`${comment.length} / 2000`);
    await page.click('#feedback-submit');
    await page.waitForFunction(() => /Thank you/.test(document.querySelector('#feedback-status')?.textContent ?? ''));
    expect(await page.locator('#feedback-status').innerText()).toContain(result.version);
    expect(await page.isDisabled('#feedback-submit')).toBe(true);

    const lines = (await readFile(join(stack.storageDir, 'feedback.jsonl'), 'utf8')).trim().split('\n');
    const entry = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.comment === comment);
    expect(entry).toBeDefined();
    expect(entry).toMatchObject({ feedback: 'bad', model: 'model2', version: result.version });
    expect(problemsOf(page)).toEqual([]);
  }, 180_000);

  it("shows the gateway's message for a file that is not an image", async () => {
    const page = await openPage({ width: 1280, height: 900 });
    await thumbnailsLoaded(page);
    await page.setInputFiles('#file-input', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some text, not a picture\n'.repeat(8)) });
    const response = page.waitForResponse((r) => r.url().endsWith('/api/stylize'));
    await page.click('#stylize-btn');
    const res = await response;
    expect([400, 415, 422]).toContain(res.status());
    const body = (await res.json()) as { message: string };
    expect(body.message).toBeTruthy();
    await page.waitForSelector('#stylize-error:not([hidden])');
    const shown = await page.locator('#stylize-error').innerText();
    expect(shown).toContain(body.message);
    expect(await page.getAttribute('#stylize-error', 'role')).toBe('alert');
    expect(await page.isHidden('#result-card')).toBe(true);
    // The page is usable again after the error.
    expect(await page.isEnabled('#stylize-btn')).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'nst-ui-error.png') });
  }, 60_000);

  it('is keyboard usable', async () => {
    const page = await openPage({ width: 1280, height: 900 });
    await thumbnailsLoaded(page);
    // Tab reaches the style radios; arrow keys change the style.
    await page.focus('#style-model1');
    await page.keyboard.press('ArrowRight');
    expect(await page.isChecked('#style-model2')).toBe(true);
    // The file input is reachable by Tab (it is visually hidden, not removed).
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('file-input');
    // The accessible name of controls.
    expect(await page.getByLabel('Comment (optional)').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Stylise' }).isDisabled()).toBe(true);
  }, 30_000);

  it('takes a dropped photo and fits a phone screen (390x844) without horizontal overflow', async () => {
    const page = await openPage({ width: 390, height: 844 });
    await thumbnailsLoaded(page);
    // This time the photo arrives by drag and drop onto the drop zone.
    const photo = (await readFile(PHOTO)).toString('base64');
    const dataTransfer = await page.evaluateHandle((b64) => {
      const dt = new DataTransfer();
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
      return dt;
    }, photo);
    await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
    expect(await page.getAttribute('#drop-zone', 'class')).toContain('dragging');
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('#preview-img')?.naturalWidth ?? 0) > 0);
    expect(await page.locator('#preview-caption').innerText()).toContain('dropped.jpg');
    await page.click('.options summary'); // the output options are folded away by default
    await page.selectOption('#size-select', '512');
    await page.click('#stylize-btn');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 120_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('#result-img')?.naturalWidth ?? 0) > 0);
    await page.screenshot({ path: join(SHOTS, 'nst-ui-phone.png'), fullPage: true });
    const scrollWidth = await page.evaluate(() => document.scrollingElement!.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(390);
    // Every card fits the viewport.
    const widest = await page.evaluate(() => Math.max(...Array.from(document.querySelectorAll('.card, img')).map((e) => e.getBoundingClientRect().right)));
    expect(widest).toBeLessThanOrEqual(390);
    // The style cards sit two to a row.
    const boxes = await page.locator('.style-card').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top));
    expect(boxes[0]).toBe(boxes[1]);
  }, 180_000);
});

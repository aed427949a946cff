/**
 * Browser test of the UI against the real stack (gateway + inference services on free
 * loopback ports), driving Debian's Chromium with playwright-core.
 *
 * Flow: thumbnails decode → upload a real photo → preview → pick a style → Stylise →
 * result decodes → Download gives a real PNG → feedback (with comment) is confirmed and
 * lands in <storage>/feedback.jsonl with model and version. Also: while the next photo is
 * painted the previous result stays on screen, downloadable and rateable, with progress
 * beside it; a refused file (not an image, undecodable, over the server's limit) keeps the
 * photo chosen before, with the reason beside the drop zone; the page takes its upload
 * limit from the gateway's configuration and shows the gateway's message for a photo it
 * refuses; keyboard use, and a 390x844 phone viewport with no horizontal overflow.
 * Screenshots go to $TMPDIR/nst-ui-*.png.
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
const PHOTO = join(MIRROR, 'images/content/val/101085.jpg'); // 321×481, 100 KB
const SMALL_PHOTO = join(MIRROR, 'images/content/val/3096.jpg'); // 481×321, 30 KB
const SHOTS = tmpdir();
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);


/** Waits until the images matched by `selectors` have decoded. */
async function decoded(page: Page, selectors: string[]): Promise<void> {
  await page.waitForFunction(
    (sels) =>
      sels.every((sel) => {
        const img = document.querySelector<HTMLImageElement>(sel);
        return !!img && img.complete && img.naturalWidth > 0;
      }),
    selectors,
    { timeout: 30_000 },
  );
}

/** The element's box lies within the viewport (the user sees it without scrolling). */
async function inView(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).evaluate((e) => {
    const r = e.getBoundingClientRect();
    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
  });
}

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

  it('keeps the previous result on screen, downloadable and rateable, while the next photo is painted', async () => {
    const page = await openPage({ width: 1280, height: 900 });
    await thumbnailsLoaded(page);
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForSelector('#preview:not([hidden])');
    await page.click('.options summary');
    await page.selectOption('#size-select', '512');
    await page.click('#stylize-btn');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 120_000 });
    await decoded(page, ['#result-img']);
    const first = await page.getAttribute('#result-img', 'src');
    expect(await page.isHidden('#result-progress')).toBe(true);

    // Hold the second request at the browser until the checks are done, then let it through to the gateway.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const holding = new Promise<void>((r) => (arrived = r));
    await page.route('**/api/stylize', async (route) => {
      arrived();
      await held;
      await route.continue();
    });
    await page.setInputFiles('#file-input', SMALL_PHOTO);
    await page.waitForFunction(() => /3096\.jpg/.test(document.querySelector('#preview-caption')?.textContent ?? ''));
    await page.click('#stylize-btn');
    await holding;

    // In flight: progress beside the result, which is still the first one and still works.
    await page.waitForSelector('#result-progress:not([hidden])');
    expect(await page.locator('#result-progress-status').innerText()).toMatch(/Uploading|Painting/);
    expect(await page.getAttribute('#result-img', 'src')).toBe(first);
    expect(await page.isVisible('#result-img')).toBe(true);
    expect(await page.evaluate(() => document.querySelector<HTMLImageElement>('#result-img')!.naturalWidth)).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'nst-ui-next-in-flight.png'), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
    expect((await readFile(await download.path())).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    await page.getByRole('radio', { name: 'Good' }).check();
    await page.click('#feedback-submit');
    await page.waitForFunction(() => /Thank you/.test(document.querySelector('#feedback-status')?.textContent ?? ''));

    // Released: the new result replaces the first once it has arrived, and the progress goes.
    release();
    await page.waitForFunction((src) => document.querySelector('#result-img')?.getAttribute('src') !== src, first, { timeout: 120_000 });
    await decoded(page, ['#result-img']);
    expect(await page.isHidden('#result-progress')).toBe(true);
    expect(await page.isEnabled('#feedback-submit')).toBe(true); // a new result, rated afresh
    await page.unroute('**/api/stylize');
    expect(problemsOf(page)).toEqual([]);
  }, 240_000);

  it('keeps the photo chosen before when a file is refused, and says why beside the drop zone', async () => {
    const page = await openPage({ width: 1280, height: 900 });
    await thumbnailsLoaded(page);
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForFunction(() => /321×481/.test(document.querySelector('#preview-caption')?.textContent ?? ''));
    expect(await page.isEnabled('#stylize-btn')).toBe(true);
    const chosen = await page.getAttribute('#preview-img', 'src');

    for (const [file, reason] of [
      [{ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some text, not a picture\n'.repeat(8)) }, /cannot be read as an image/],
      [{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello\n') }, /is not an image/],
    ] as const) {
      await page.setInputFiles('#file-input', file);
      await page.waitForSelector('#upload-error:not([hidden])');
      const shown = await page.locator('#upload-error').innerText();
      expect(shown).toMatch(reason);
      expect(shown).toContain(file.name);
      expect(shown).toContain('Still using “101085.jpg”');
      expect(await page.getAttribute('#upload-error', 'role')).toBe('alert');
      expect(await inView(page, '#upload-error')).toBe(true);
      // The earlier photo is still the one that will be stylised.
      expect(await page.getAttribute('#preview-img', 'src')).toBe(chosen);
      expect(await page.locator('#preview-caption').innerText()).toContain('101085.jpg');
      expect(await page.isEnabled('#stylize-btn')).toBe(true);
    }
    await page.screenshot({ path: join(SHOTS, 'nst-ui-refused.png') });

    // A good file clears the error.
    await page.setInputFiles('#file-input', SMALL_PHOTO);
    await page.waitForSelector('#upload-error', { state: 'hidden' });
    expect(await page.locator('#preview-caption').innerText()).toContain('3096.jpg');
    expect(problemsOf(page)).toEqual([]);
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

describe('browser UI with a gateway configured with small limits', () => {
  let stack: TestStack;
  let browser: Browser;
  let close: (() => Promise<void>) | undefined;
  const LIMIT = 64 * 1024;

  beforeAll(async () => {
    ({ stack, browser, close } = await startBrowserStack({ models: ['model1=wave'], env: { NST_MAX_UPLOAD_BYTES: String(LIMIT), NST_MAX_PIXELS: '100000' } }));
  }, 240_000);

  afterAll(async () => {
    await close?.();
  }, 60_000);

  it("refuses a photo over the server's upload limit, naming it, and shows the gateway's message for one it refuses", async () => {
    const config = (await (await fetch(`${stack.gatewayUrl.replace(/\/$/, '')}/api/config`)).json()) as { max_upload_bytes: number };
    expect(config.max_upload_bytes).toBe(LIMIT);

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(stack.gatewayUrl.replace(/\/$/, '') + '/');
    await page.waitForFunction(() => /up to 64 KB/.test(document.querySelector('#drop-hint')?.textContent ?? ''));

    // 100 KB against a 64 KB limit: refused in the page, nothing sent.
    let sent = 0;
    page.on('request', (r) => void (r.url().endsWith('/api/stylize') && (sent += 1)));
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForSelector('#upload-error:not([hidden])');
    expect(await page.locator('#upload-error').innerText()).toMatch(/“101085\.jpg” is 100 KB; the limit is 64 KB\./);
    expect(await inView(page, '#upload-error')).toBe(true);
    expect(await page.isHidden('#preview')).toBe(true);
    expect(await page.isDisabled('#stylize-btn')).toBe(true);

    // Within the byte limit but over the pixel limit: the gateway's own message, by the Stylise button.
    await page.setInputFiles('#file-input', SMALL_PHOTO);
    await page.waitForSelector('#preview:not([hidden])');
    const response = page.waitForResponse((r) => r.url().endsWith('/api/stylize'));
    await page.click('#stylize-btn');
    const res = await response;
    expect(res.status()).toBe(413);
    const body = (await res.json()) as { message: string };
    expect(body.message).toMatch(/pixels/);
    await page.waitForSelector('#stylize-error:not([hidden])');
    expect(await page.locator('#stylize-error').innerText()).toContain(body.message);
    expect(await page.isHidden('#result-card')).toBe(true);
    expect(await page.isEnabled('#stylize-btn')).toBe(true);
    expect(sent).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'nst-ui-error.png') });
  }, 60_000);
});

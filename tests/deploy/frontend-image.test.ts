/**
 * The UI as the frontend image serves it: the built bundle (frontend/dist) behind docker/nginx.conf
 * in a real nginx, with /api/ proxied to the real gateway (which does not serve the UI itself,
 * NST_SERVE_FRONTEND=false, as in the containers) and a real inference service. Debian's Chromium,
 * driven by playwright-core, loads the page, stylises a real photo and must see no Content
 * Security Policy violation or page error — the headers nginx adds must not break the UI.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { startNginx, type RunningNginx } from './nginxHarness.ts';
import { rel } from './tools.ts';
import { launchChromium } from '../support/browser.ts';


describe('the UI behind the frontend image nginx, against the real gateway', () => {
  let stack: TestStack;
  let nginx: RunningNginx;
  let browser: Browser;

  beforeAll(async () => {
    execFileSync(process.execPath, [rel('frontend/build.mjs')], { stdio: 'pipe' });
    stack = await startTestStack({ models: ['model1=wave'], env: { NST_SERVE_FRONTEND: 'false' } });
    nginx = await startNginx({ root: rel('frontend/dist'), gatewayPort: Number(new URL(stack.gatewayUrl).port) });
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await stack?.stop();
  }, 60_000);

  it('the gateway itself does not serve the UI in this mode; nginx does, with its headers', async () => {
    expect((await fetch(`${stack.gatewayUrl}/`)).status).toBe(404);
    const res = await fetch(`${nginx.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  it('loads, stylises a real photo through /api/ and shows the result without CSP violations', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(String(err)));
      page.on('console', (msg) => {
        if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(msg.text());
      });
      await page.goto(`${nginx.url}/`);
      await page.waitForSelector('.style-card img');
      await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('.style-card img')).every((img) => img.complete && img.naturalWidth > 0));
      await page.setInputFiles('#file-input', await contentPhoto(0));
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('#preview-img');
        return !!img && img.complete && img.naturalWidth > 0;
      });
      const response = page.waitForResponse((r) => r.url().endsWith('/api/stylize'));
      await page.click('#stylize-btn');
      const res = await response;
      expect(res.status()).toBe(200);
      expect(res.headers()['x-request-id']).toBeTruthy();
      await page.waitForSelector('#result-card:not([hidden])', { timeout: 120_000 });
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('#result-img');
        return !!img && img.complete && img.naturalWidth > 0;
      });
      await page.screenshot({ path: path.join(tmpdir(), 'nst-ui-behind-nginx.png') });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

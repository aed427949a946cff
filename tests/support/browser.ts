/** Debian's Chromium driven by playwright-core, the same way in every browser test. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from '../../scripts/lib/stack.ts';
import { startTestStack, type TestStack, type TestStackOptions } from './stack.ts';

export const CHROMIUM = process.env.NST_CHROMIUM ?? '/usr/bin/chromium';

/** A missing browser is a failed test, not a skipped one: scripts/setup.sh --test-tools installs it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --test-tools (apt-get install chromium) or set NST_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

/**
 * The current UI sources bundled (well under a second), the real stack, and Chromium:
 * what every browser suite starts from. close() shuts the browser (its contexts too) and the stack.
 */
export async function startBrowserStack(o: TestStackOptions): Promise<{ stack: TestStack; browser: Browser; close(): Promise<void> }> {
  execFileSync(process.execPath, [`${ROOT}/frontend/build.mjs`], { stdio: 'pipe' });
  const [stack, browser] = await Promise.all([startTestStack(o), launchChromium()]);
  return {
    stack,
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      await stack.stop();
    },
  };
}

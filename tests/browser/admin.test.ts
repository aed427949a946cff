/**
 * Browser test of the operator page (admin.html) against the real stack, driving Debian's
 * Chromium with playwright-core.
 *
 * Setup: model1 (wave) with a second version published from la_muse weights (parent
 * model1_v1), traffic and ratings on both versions through the API. Flow: a wrong token
 * shows "invalid token"; the right one opens the dashboard; versions with lineage; a 30%
 * canary of v2 started from the UI shows in GET /api/models; the bad-rate chart has data
 * points; the history names the operator; Promote makes v2 live; "Roll back to this" on v1
 * makes v1 live again; the jobs panel shows the 503 of the missing fine-tuning service.
 * Then a 390x844 phone viewport without horizontal overflow. Screenshots go to
 * $TMPDIR/nst-admin-*.png.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finetuneRequestSchema, type Job } from '@nst/contracts';
import { getJson, postJson, stylize } from '../support/http.ts';
import { testJob } from '../support/jobs.ts';
import { publishVersionFromStyle } from '../support/models.ts';
import { contentPhoto, type TestStack } from '../support/stack.ts';
import { startBrowserStack } from '../support/browser.ts';

const SHOTS = tmpdir();
const ACTOR = 'test-operator';


async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('operator page against the real stack', () => {
  let stack: TestStack;
  let browser: Browser;
  let close: (() => Promise<void>) | undefined;
  let v2: string;

  beforeAll(async () => {
    ({ stack, browser, close } = await startBrowserStack({ models: ['model1=wave'] }));
    v2 = await publishVersionFromStyle(stack.store, 'model1', 'la_muse');

    // Traffic and ratings on both versions (pinned), so the table and chart have numbers.
    const photo = await readFile(await contentPhoto(3));
    const plan: [string, ('good' | 'bad' | null)[]][] = [
      ['model1_v1', ['good', 'good', 'good', 'bad', null]],
      [v2, ['bad', 'bad', 'good', null]],
    ];
    for (const [version, ratings] of plan) {
      for (const rating of ratings) {
        const r = await stylize(stack.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-model-version': version, 'x-client-id': 'admin-test', authorization: `Bearer ${stack.adminToken}` });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.version).toBe(version);
        if (!rating) continue;
        const f = await postJson(`${stack.gatewayUrl}/api/feedback`, {
          feedback: rating,
          model: 'model1',
          content_image_filename: r.body.content_image_filename,
          output_image_filename: r.body.output_image_filename,
          timestamp: new Date().toISOString(),
        }, { 'x-client-id': 'admin-test' });
        expect(f.status).toBe(201);
      }
    }
  }, 240_000);

  afterAll(async () => {
    await close?.();
  }, 60_000);

  async function openPage(viewport: { width: number; height: number }): Promise<Page & { problems: string[] }> {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = (await context.newPage()) as Page & { problems: string[] };
    page.problems = [];
    page.on('pageerror', (err) => page.problems.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) page.problems.push(msg.text());
    });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${stack.gatewayUrl.replace(/\/$/, '')}/admin.html`);
    return page;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.waitForSelector('#sign-in:not([hidden])');
    await page.fill('#token-input', token);
    await page.fill('#actor-input', ACTOR);
    await page.click('#sign-in-btn');
  }

  const latest = () => stack.store.latest('model1');

  it('signs in, starts a canary, promotes and rolls back', async () => {
    const page = await openPage({ width: 1280, height: 900 });
    expect(await page.locator('h1').innerText()).toContain('operator');

    // Wrong token: the error, and the form stays.
    await signIn(page, 'wrong-token-wrong-token-wrong-token');
    await page.waitForSelector('#sign-in-error:not([hidden])');
    expect(await page.locator('#sign-in-error').innerText()).toMatch(/invalid.*token/i);
    expect(await page.isHidden('#dashboard')).toBe(true);

    // Right token: the dashboard with model1's versions and lineage.
    await signIn(page, stack.adminToken);
    await page.waitForSelector('#dashboard:not([hidden])');
    await page.waitForSelector(`#model-model1 tr[data-version="${v2}"]`);
    expect(await page.locator('#model-model1 [data-field="live"]').innerText()).toBe('model1_v1');
    const v2Row = page.locator(`#model-model1 tr[data-version="${v2}"]`);
    expect(await v2Row.locator('td[data-label="Parent"]').innerText()).toBe('model1_v1');
    expect(await v2Row.locator('td[data-label="Requests"]').innerText()).toBe('4');
    expect(await v2Row.locator('td[data-label="Bad"]').innerText()).toBe('2');
    expect(await v2Row.locator('td[data-label="Bad rate"]').innerText()).toMatch(/66\.7%/);
    // Lineage order: v2 comes after its parent, indented.
    expect(await page.locator('#model-model1 tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-version')))).toEqual(['model1_v1', v2]);
    expect(await v2Row.locator('.lineage-arrow').count()).toBe(1);

    // The chart: one line per rated version, with data points.
    await page.waitForSelector('#chart-model1 path.chart-line', { state: 'attached' });
    const lines = await page.locator('#chart-model1 path.chart-line').evaluateAll((ps) => ps.map((p) => ({ d: p.getAttribute('d') ?? '', n: Number(p.getAttribute('data-points')) })));
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.n).toBeGreaterThanOrEqual(1);
      expect(l.d).toMatch(/^M[\d.]+,[\d.]+/);
    }
    expect(await page.locator('#chart-model1 circle.chart-point').count()).toBeGreaterThanOrEqual(2);

    // The jobs panel shows the fine-tuning service's absence, and the rest still works.
    await page.waitForSelector('#jobs-error:not([hidden])');
    expect(await page.locator('#jobs-error').innerText()).toMatch(/unavailable.*fine-tuning service is not reachable/i);

    // Canary of v2 at 30% from the UI.
    await v2Row.getByRole('button', { name: `Canary ${v2}…` }).click();
    expect(await page.inputValue('#canary-version-model1')).toBe(v2);
    await page.fill('#canary-percent-model1', '30');
    await page.fill('#reason-model1', 'try la_muse weights');
    await page.click('#model-model1 button[data-action="canary"]');
    await page.waitForSelector('#model-model1 .status[data-kind="ok"]');
    const models = await getJson(`${stack.gatewayUrl}/api/models`);
    expect((models.body.models as { canary: unknown }[])[0]!.canary).toEqual({ version: v2, percent: 30 });
    await page.waitForFunction((v) => document.querySelector('#model-model1 [data-field="canary"]')?.textContent?.startsWith(`${v} at 30%`), v2);
    expect(await page.locator('#model-model1 .split-canary').innerText()).toContain('30%');

    // History names the operator.
    const entry = page.locator('#history-model1 li[data-action="canary"]').first();
    await entry.waitFor();
    expect(await entry.innerText()).toContain(`by ${ACTOR}`);
    expect(await entry.innerText()).toContain('try la_muse weights');
    await page.screenshot({ path: join(SHOTS, 'nst-admin-desktop-canary.png'), fullPage: true });

    // Promote: v2 is live.
    await page.click('#model-model1 button[data-action="promote"]');
    await waitFor(async () => (await latest()) === v2, 'v2 to be live');
    await page.waitForFunction((v) => document.querySelector('#model-model1 [data-field="live"]')?.textContent === v, v2);
    expect(await page.locator('#model-model1 [data-field="canary"]').innerText()).toBe('none');

    // Roll back to v1 from its row.
    await page.locator('#model-model1 tr[data-version="model1_v1"]').getByRole('button', { name: 'Roll back to model1_v1' }).click();
    await waitFor(async () => (await latest()) === 'model1_v1', 'v1 to be live again');
    await page.waitForFunction(() => document.querySelector('#model-model1 [data-field="live"]')?.textContent === 'model1_v1');
    await page.waitForSelector('#history-model1 li[data-action="rollback"]');
    const history = (await getJson(`${stack.gatewayUrl}/api/models/model1/history`)).body.history as { action: string; actor: string }[];
    expect(history.map((h) => [h.action, h.actor])).toEqual([
      ['publish', 'import'],
      ['canary', ACTOR],
      ['promote', ACTOR],
      ['rollback', ACTOR],
    ]);
    await page.screenshot({ path: join(SHOTS, 'nst-admin-desktop.png'), fullPage: true });

    // The model card of v2: where it came from.
    await page.click('#model-model1 .admin-card-box summary');
    await page.selectOption('#card-version-model1', v2);
    await page.waitForFunction(() => /la_muse/.test(document.querySelector('#card-model1')?.textContent ?? ''));
    expect(await page.locator('#card-model1').innerText()).toMatch(/source\.kind\s+test/);
    await page.locator('#model-model1').screenshot({ path: join(SHOTS, 'nst-admin-model-card.png') });

    // Nothing to promote now: the button is disabled.
    const promote = page.locator('#model-model1 button[data-action="promote"]');
    expect(await promote.isDisabled()).toBe(true);

    expect(page.problems).toEqual([]);
  });

  it('asks to sign in again when the token stops working, and fits a phone', async () => {
    const page = await openPage({ width: 390, height: 844 });
    await signIn(page, stack.adminToken);
    await page.waitForSelector(`#model-model1 tr[data-version="${v2}"]`);
    await page.waitForSelector('#jobs-error:not([hidden])');
    await page.waitForSelector('#chart-model1 path.chart-line', { state: 'attached' });

    const scrollWidth = await page.evaluate(() => document.scrollingElement!.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, 'nst-admin-phone.png'), fullPage: true });

    // Every form control has a label.
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select, textarea'))
        .filter((i) => i.type !== 'hidden' && !i.labels?.length && !i.getAttribute('aria-label'))
        .map((i) => i.id || i.name),
    );
    expect(unlabelled).toEqual([]);

    // The main page links to the operator page; the token stays for the tab.
    await page.goto(`${stack.gatewayUrl.replace(/\/$/, '')}/`);
    await page.getByRole('link', { name: 'Operator' }).click();
    await page.waitForURL(/\/admin\.html$/);
    await page.waitForSelector('#dashboard:not([hidden])');
    expect(await page.inputValue('#actor-bar')).toBe(ACTOR);

    // A token that no longer works (e.g. rotated): the next admin call signs out.
    await page.evaluate(() => sessionStorage.setItem('nst.admin.token', 'rotated-token-rotated-token'));
    await page.reload();
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await page.locator('#sign-in-error').innerText()).toMatch(/invalid.*token/i);
    expect(page.problems).toEqual([]);
  });
  it('lists fine-tuning jobs with loss curves, cancels one and starts one (service answers stubbed)', async () => {
    // The fine-tuning service's answers, stubbed at the browser in the contract's shape.
    const now = Date.now();
    const losses = (totals: number[], steps = totals.map((_, i) => i + 1)) => totals.map((total, i) => ({ step: steps[i]!, total, style: total * 0.7, content: total * 0.2, tv: total * 0.1 }));
    const job = (over: Partial<Job>): Job => testJob({ created_at: new Date(now).toISOString(), request: finetuneRequestSchema.parse({ model: 'model1' }), ...over });
    const jobs = [
      job({ id: 'job-run', state: 'running', step: 120, steps: 400, loss_history: losses([9.1, 7.4, 6.2, 5.9, 5.1, 4.8]), loss: 4.8, eta_seconds: 95, created_at: new Date(now - 60_000).toISOString() }),
      job({
        id: 'job-done',
        state: 'succeeded',
        step: 400,
        steps: 400,
        loss_history: losses([8, 6.5, 5.5, 5.2], [1, 100, 200, 400]),
        loss: 5.2,
        dataset: { images: 12, curated_uploads: 4, base_photos: 8, undecodable: 0 },
        result: { version: 'model1_v3', published: true, reason: 'held-out loss improved', heldout: { parent: losses([6.1])[0]!, trained: losses([5.4])[0]! } },
        created_at: new Date(now - 3_600_000).toISOString(),
      }),
    ];
    const calls: { method: string; url: string; body: string | null }[] = [];
    const page = await openPage({ width: 1280, height: 900 });
    await page.route('**/api/admin/jobs**', async (route) => {
      const req = route.request();
      if (req.headers().authorization !== `Bearer ${stack.adminToken}`) return route.fulfill({ status: 401, json: { message: 'invalid admin token' } });
      calls.push({ method: req.method(), url: req.url(), body: req.postData() });
      if (req.method() === 'DELETE') {
        jobs[0]!.state = 'cancelled';
        return route.fulfill({ json: jobs[0] });
      }
      if (req.method() === 'POST' && req.url().endsWith('/api/admin/jobs/job-run/retry')) {
        const again = job({ id: 'job-again', retry_of: 'job-run', steps: 400 });
        jobs.unshift(again);
        return route.fulfill({ status: 202, json: again });
      }
      return route.fulfill({ json: { jobs } });
    });
    await page.route('**/api/admin/finetune', async (route) => {
      calls.push({ method: route.request().method(), url: route.request().url(), body: route.request().postData() });
      return route.fulfill({ status: 202, json: job({ id: 'job-new', steps: 300 }) });
    });
    await signIn(page, stack.adminToken);
    await page.waitForSelector('article.job[data-job="job-run"]');
    const run = page.locator('article.job[data-job="job-run"]');
    expect(await run.innerText()).toMatch(/running[\s\S]*step 120 of 400[\s\S]*ETA 1 min 35 s[\s\S]*loss 4\.8/);
    expect(await run.locator('path.chart-line').getAttribute('data-points')).toBe('6');
    expect(await run.locator('progress').getAttribute('value')).toBe('0.3');
    const done = page.locator('article.job[data-job="job-done"]');
    expect(await done.innerText()).toMatch(/version model1_v3 · published: true · held-out loss 6\.1 → 5\.4/);
    expect(await done.innerText()).toContain('12 images');
    expect(await done.locator('path.chart-line').getAttribute('data-points')).toBe('4');
    expect(await done.getByRole('button', { name: /cancel/i }).count()).toBe(0);
    expect(await page.isHidden('#jobs-error')).toBe(true);
    await page.locator('#jobs').screenshot({ path: join(SHOTS, 'nst-admin-jobs.png') });

    await run.getByRole('button', { name: 'Cancel job job-run' }).click();
    await page.waitForFunction(() => document.querySelector('article.job[data-job="job-run"]')?.classList.contains('job-cancelled'));
    expect(calls.some((c) => c.method === 'DELETE' && c.url.endsWith('/api/admin/jobs/job-run'))).toBe(true);
    // A cancelled job can be run again; one that succeeded cannot.
    expect(await done.getByRole('button', { name: /retry/i }).count()).toBe(0);
    await run.getByRole('button', { name: 'Retry job job-run' }).click();
    await page.waitForSelector('article.job[data-job="job-again"]');
    expect(calls.some((c) => c.method === 'POST' && c.url.endsWith('/api/admin/jobs/job-run/retry'))).toBe(true);

    await page.fill('#ft-steps', '300');
    await page.selectOption('#ft-data', 'feedback');
    await page.fill('#ft-canary_percent', '25');
    await page.click('.admin-finetune button[type="submit"]');
    await page.waitForSelector('.admin-finetune .status[data-kind="ok"]');
    const start = calls.find((c) => c.url.endsWith('/api/admin/finetune'))!;
    expect(JSON.parse(start.body!)).toEqual({ model: 'model1', data: 'feedback', publish: 'canary', steps: 300, canary_percent: 25 });
    expect(await page.locator('.admin-finetune .status').innerText()).toContain('job-new');
    expect(page.problems).toEqual([]);
  });
});

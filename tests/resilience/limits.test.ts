/**
 * Hostile and unlucky input at the gateway: slow bodies are cut, connections and header
 * sizes are capped, malformed multipart is a 400, one damaged routing file breaks nothing
 * else, version names cannot walk the store, epoch-millisecond timestamps are taken,
 * symbolic links are not served, an unwritable result folder is a clear 503 that keeps
 * nothing and turns /ready off, both pages pass the Content-Security-Policy in Chromium,
 * and the retention job deletes only old images nothing refers to.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/stack.ts';
import { startBrowserStack } from '../support/browser.ts';
import { contentPhoto, type TestStack } from '../support/stack.ts';
import { getJson, postJson, stylize } from '../support/http.ts';

let s: TestStack;
let browser: Browser;
let close: () => Promise<void>;
let photo: Buffer;
beforeAll(async () => {
  ({ stack: s, browser, close } = await startBrowserStack({
    models: ['model1=wave', 'model2=udnie'],
    env: { NST_REQUEST_TIMEOUT_MS: '3000', NST_HEADERS_TIMEOUT_MS: '2000', NST_MAX_CONNECTIONS: '40', NST_MAX_HEADER_BYTES: '8192' },
  }));
  photo = await readFile(await contentPhoto(4));
});
afterAll(async () => close?.());

const open = () =>
  new Promise<Socket>((resolve, reject) => {
    const u = new URL(s.gatewayUrl);
    const sock = connect(Number(u.port), u.hostname, () => resolve(sock));
    sock.on('error', reject);
  });
const closed = (sock: Socket) => new Promise<void>((resolve) => sock.once('close', () => resolve()));
const raw = async (head: string, body: string, route = '/api/stylize') => {
  const res = await fetch(`${s.gatewayUrl}${route}`, { method: 'POST', headers: { 'content-type': head, 'x-client-id': 'raw' }, body });
  return { status: res.status, body: (await res.json()) as { message: string } };
};

describe('server limits', () => {
  it('cuts a body sent at one byte a second', async () => {
    const sock = await open();
    sock.write(`POST /api/stylize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n`);
    const timer = setInterval(() => sock.writable && sock.write('x'), 1000);
    const t = performance.now();
    let answer = '';
    sock.on('data', (d) => (answer += d.toString()));
    await closed(sock);
    clearInterval(timer);
    expect(performance.now() - t).toBeLessThan(8_000);
    expect(answer).toMatch(/^HTTP\/1\.1 (408|400|503)/);
  });

  it('caps connections and header size, and says how long it keeps connections alive', async () => {
    const socks = await Promise.all(Array.from({ length: 60 }, () => open().catch(() => null)));
    const live = socks.filter((x): x is Socket => x !== null);
    const dropped = await Promise.all(live.map((x) => Promise.race([closed(x).then(() => 1), new Promise<number>((r) => setTimeout(() => r(0), 1000))])));
    expect(dropped.reduce((a, b) => a + b, 0) + (socks.length - live.length)).toBeGreaterThanOrEqual(15);
    for (const x of live) x.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const big = await fetch(`${s.gatewayUrl}/api/models`, { headers: { 'x-padding': 'p'.repeat(10_000) } });
    expect(big.status).toBe(431);
    const ok = await fetch(`${s.gatewayUrl}/api/models`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('keep-alive')).toMatch(/timeout=5/);
  });
});

describe('bad input', () => {
  it('malformed multipart is a 400 with a message; so are two image fields', async () => {
    const cases: [string, string][] = [
      ['multipart/form-data', '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nmodel1\r\n--x--\r\n'],
      ['multipart/form-data; boundary=other', '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nmodel1\r\n--x--\r\n'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nabc'],
    ];
    // Both multipart routes: photos (streamed to disk) and paintings (POST /api/styles).
    for (const route of ['/api/stylize', '/api/styles']) {
      for (const [type, body] of cases) {
        const r = await raw(type, body, route);
        expect([r.status, type, route], r.body.message).toEqual([400, type, route]);
        expect(r.body.message.length).toBeGreaterThan(5);
      }
    }
    const form = new FormData();
    form.set('model', 'model1');
    form.append('image', new Blob([new Uint8Array(photo)]), 'a.jpg');
    form.append('image', new Blob([new Uint8Array(photo)]), 'b.jpg');
    const two = await fetch(`${s.gatewayUrl}/api/stylize`, { method: 'POST', body: form });
    expect(two.status).toBe(400);
    expect(((await two.json()) as { message: string }).message).toMatch(/exactly one file named "image"/);
  });

  it("a damaged routing.json of one model breaks neither the other models' listing nor /metrics", async () => {
    await writeFile(s.store.modelDir('model2') + '/routing.json', '{"candidate": "model2_v1", "perc');
    const models = await getJson(`${s.gatewayUrl}/api/models`);
    expect(models.status).toBe(200);
    expect((models.body.models as { name: string; live_version: string }[]).map((m) => [m.name, m.live_version])).toEqual([
      ['model1', 'model1_v1'],
      ['model2', 'model2_v1'],
    ]);
    expect((await fetch(`${s.gatewayUrl}/metrics`)).status).toBe(200);
    await rm(s.store.modelDir('model2') + '/routing.json');
  });

  it('refuses version names that leave the model', async () => {
    for (const v of ['..%2Fmodel2%2Fmodel2_v1', '..%2F..%2Fadmin_token', 'model2_v1']) {
      const r = await fetch(`${s.gatewayUrl}/api/models/model1/versions/${v}`);
      expect([v, r.status]).toEqual([v, 404]);
    }
    expect((await fetch(`${s.gatewayUrl}/api/models/model1/versions/model1_v1`)).status).toBe(200);
  });

  it('takes an epoch-milliseconds timestamp', async () => {
    const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': 'epoch' });
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    const f = await postJson(
      `${s.gatewayUrl}/api/feedback`,
      { feedback: 'good', model: 'model1', content_image_filename: r.body.content_image_filename, output_image_filename: r.body.output_image_filename, timestamp: at },
      { 'x-client-id': 'epoch' },
    );
    expect(f.status).toBe(201);
    const lines = (await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(lines.at(-1)!).timestamp).toBe('2026-01-02T03:04:05.000Z');
  });

  it('does not serve images through symbolic links', async () => {
    const name = 'out_00000000-0000-4000-8000-000000000001.png';
    await mkdir(path.join(s.storageDir, 'output_images'), { recursive: true });
    await symlink(path.join(s.storageDir, 'admin_token'), path.join(s.storageDir, 'output_images', name)).catch(() => undefined);
    await symlink('/etc/hostname', path.join(s.storageDir, 'output_images', name.replace('1.png', '2.png')));
    for (const n of [name, name.replace('1.png', '2.png')]) expect((await fetch(`${s.gatewayUrl}/api/images/outputs/${n}`)).status).toBe(404);
  });
});

describe('security headers', () => {
  it('both pages pass the Content-Security-Policy in Chromium, and cannot be framed', async () => {
    const res = await fetch(`${s.gatewayUrl}/admin.html`);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    for (const page of ['/', '/admin.html']) {
      const context = await browser.newContext();
      const p = await context.newPage();
      const violations: string[] = [];
      p.on('console', (m) => /Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text()));
      await p.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`Refused to load (CSP) ${e.violatedDirective} ${e.blockedURI}`)));
      await p.goto(`${s.gatewayUrl}${page}`, { waitUntil: 'networkidle' });
      expect(await p.locator('body').count()).toBe(1);
      await context.close();
      expect([page, violations]).toEqual([page, []]);
    }
  });
});

describe('storage', () => {
  it('an unwritable output folder is a clear 503, keeps no input, and turns /ready off', async () => {
    const out = path.join(s.storageDir, 'output_images');
    const inputs = async () => (await readdir(path.join(s.storageDir, 'input_images'))).length;
    const before = await inputs();
    await rename(out, `${out}.away`);
    await writeFile(out, 'not a folder');
    try {
      const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': 'disk' });
      expect(r.status).toBe(503);
      expect(r.body.message).toMatch(/could not be stored.*nothing was kept/);
      expect(await inputs()).toBe(before);
      const ready = await fetch(`${s.gatewayUrl}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/output_images/);
    } finally {
      await rm(out);
      await rename(`${out}.away`, out);
    }
    expect((await fetch(`${s.gatewayUrl}/ready`)).status).toBe(200);
  });

  it('the retention job deletes old images except those feedback refers to', async () => {
    const dir = path.join(s.storageDir, 'retention');
    const ins = path.join(dir, 'input_images');
    const outs = path.join(dir, 'output_images');
    await mkdir(ins, { recursive: true });
    await mkdir(outs, { recursive: true });
    const id = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    for (const n of [1, 2, 3]) {
      await writeFile(path.join(ins, `in_${id(n)}.jpeg`), 'x');
      await writeFile(path.join(outs, `out_${id(n)}.png`), 'x');
      await writeFile(path.join(outs, `out_${id(n)}.json`), JSON.stringify({ content_image_filename: `in_${id(n)}.jpeg` }));
      if (n !== 3) for (const f of [path.join(ins, `in_${id(n)}.jpeg`), path.join(outs, `out_${id(n)}.png`)]) await utimes(f, old, old);
    }
    const part = path.join(ins, `.upload-${id(4)}.part`);
    await writeFile(part, 'cut off');
    await utimes(part, old, old);
    // 1: old and rated (kept); 2: old, nothing refers to it (deleted); 3: recent (kept); 4: a stale upload (deleted).
    await writeFile(path.join(dir, 'feedback.jsonl'), `${JSON.stringify({ feedback: 'bad', model: 'model1', version: 'model1_v1', output_image_filename: `out_${id(1)}.png`, content_image_filename: `in_${id(1)}.jpeg`, timestamp: old.toISOString(), client_id: 'c1' })}\n`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/retentionJob.ts'], {
      cwd: path.join(ROOT, 'services/gateway'),
      env: { ...process.env, NST_STORAGE_DIR: dir, NST_IMAGE_RETENTION_DAYS: '30' },
    });
    expect(stdout).toMatch(/image_retention/);
    expect((await readdir(ins)).sort()).toEqual([`in_${id(1)}.jpeg`, `in_${id(3)}.jpeg`]);
    expect((await readdir(outs)).sort()).toEqual([`out_${id(1)}.json`, `out_${id(1)}.png`, `out_${id(3)}.json`, `out_${id(3)}.png`]);
  });
});

/**
 * Overload sheds instead of queueing unseen: past what the inference side can queue the
 * gateway answers 503 + Retry-After within a second; a client that goes away frees its
 * place and its queued inference is dropped; uploads stream to disk, so many large ones
 * at once do not grow the gateway's memory, and their number is capped; a large run's
 * memory is given back by the inference process.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';

let s: TestStack;
let photo: Buffer;
let large: Buffer;
beforeAll(async () => {
  s = await startTestStack({
    models: ['model1=wave'],
    env: { NST_INFER_CONCURRENCY: '1', NST_QUEUE_SIZE: '2', NST_INFERENCE_MAX_IN_FLIGHT: '3', NST_MAX_CONCURRENT_UPLOADS: '16' },
  });
  photo = await readFile(await contentPhoto(9));
  large = await sharp(photo).resize(1024, 768, { fit: 'fill' }).jpeg().toBuffer();
});
afterAll(async () => s?.stop());

const form = (image: Uint8Array, maxSize: string) => {
  const f = new FormData();
  f.set('model', 'model1');
  f.set('max_size', maxSize);
  f.set('image', new Blob([new Uint8Array(image)]), 'p.jpg');
  return f;
};
const post = (image: Uint8Array, maxSize: string, signal?: AbortSignal) =>
  fetch(`${s.gatewayUrl}/api/stylize`, { method: 'POST', body: form(image, maxSize), headers: { 'x-client-id': 'load' }, signal });
const metric = async (url: string, name: string) => {
  // A reused keep-alive socket can be reset while the service is busy: ask again once.
  const text = await fetch(`${url}/metrics`)
    .catch(() => fetch(`${url}/metrics`))
    .then((r) => r.text());
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
};
const rssMiB = (pid: number, field = 'VmRSS') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('shedding', () => {
  it('answers the excess with 503 + Retry-After within a second', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const t = performance.now();
        const r = await post(photo, '256');
        const body = (await r.json()) as { message?: string };
        return { status: r.status, ms: performance.now() - t, retry: r.headers.get('retry-after'), message: body.message };
      }),
    );
    const ok = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(ok.length + shed.length, JSON.stringify(answers)).toBe(12);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(shed.length).toBeGreaterThanOrEqual(6);
    for (const a of shed) {
      expect(a.ms).toBeLessThan(1_000);
      expect(Number(a.retry)).toBeGreaterThanOrEqual(1);
      expect(a.message).toMatch(/at capacity/);
    }
  });

  it('a client that disconnects frees its place and its queued inference never runs', async () => {
    const runs = () => metric(s.inferenceUrls.model1!, 'nst_inference_duration_seconds_count');
    const runsBefore = await runs();
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    // A long run takes the one slot (and, onnxruntime being synchronous, the service's event
    // loop); two small requests are forwarded behind it; then all three clients go away.
    const pending = [post(large, '1024', controllers[0]!.signal).catch(() => null)];
    // The run has started once the service stops answering its health probe.
    for (const until = Date.now() + 15_000; Date.now() < until; ) {
      const answered = await fetch(`${s.inferenceUrls.model1!}/health`, { signal: AbortSignal.timeout(400) }).then(
        () => true,
        () => false,
      );
      if (!answered) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    pending.push(...controllers.slice(1).map((c) => post(photo, '64', c.signal).catch(() => null)));
    await new Promise((r) => setTimeout(r, 300));
    for (const c of controllers) c.abort();
    await Promise.all(pending);
    // Once the long run is over (the service answers again), nothing else ran.
    const ready = () => fetch(`${s.inferenceUrls.model1!}/ready`, { signal: AbortSignal.timeout(90_000) });
    await ready().catch(ready);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await runs()) - runsBefore).toBeLessThanOrEqual(1);
    const again = await Promise.all([0, 1, 2].map(() => post(photo, '64')));
    expect(await Promise.all(again.map(async (r) => [r.status, r.status === 200 ? '' : await r.text()]))).toEqual([
      [200, ''],
      [200, ''],
      [200, ''],
    ]);
    expect(await metric(s.inferenceUrls.model1!, 'nst_inference_cancelled_total')).toBeGreaterThanOrEqual(1);
  });
});

describe('bounded memory', () => {
  it('streams concurrent large uploads to disk instead of holding them', async () => {
    const pid = s.stack.pid('gateway')!;
    const big = randomBytes(20 * 1024 * 1024);
    const before = rssMiB(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
    const answers = await Promise.all(Array.from({ length: 16 }, () => post(big, '64').then((r) => r.status)));
    clearInterval(sampler);
    // Random bytes are no image: each is refused after it was received whole.
    expect(answers).toEqual(Array(16).fill(415));
    expect(peak - before, `gateway RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`).toBeLessThan(120);
  });

  it('refuses uploads beyond the concurrent cap at once', async () => {
    const slow = Array.from({ length: 16 }, () => {
      const req = request(`${s.gatewayUrl}/api/stylize`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XyZ', 'x-client-id': 'slow' } });
      req.on('error', () => undefined);
      req.write('--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nabc');
      return req;
    });
    await new Promise((r) => setTimeout(r, 500));
    const t = performance.now();
    const refused = await post(photo, '64');
    expect(performance.now() - t).toBeLessThan(1_000);
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '1']);
    expect(((await refused.json()) as { message: string }).message).toMatch(/too many uploads/);
    for (const r of slow) r.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect((await post(photo, '64')).status).toBe(200);
  });

  it('gives a large run’s memory back', async () => {
    const pid = s.stack.pid('inference-model1')!;
    expect((await post(photo, '64')).status).toBe(200);
    const before = rssMiB(pid);
    expect((await post(large, '1024')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const after = rssMiB(pid);
    expect(after - before, `inference RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB after a 1024x768 run`).toBeLessThan(300);
  });
});

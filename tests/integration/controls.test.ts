/**
 * Strength, original colours and 4K photos through the real gateway and inference service:
 * strength 0 gives the photo back, preserve_colors keeps its chroma, and a 3840×2160 photo
 * runs in tiles with streamed progress while the inference process stays under 1.5 GB.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromaDifference, imageStats, meanAbsDiff } from '../support/imageStats.ts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { postJson } from '../support/http.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ models: ['model1=wave'], env: { NST_INFERENCE_TIMEOUT_MS: '600000', NST_ORT_THREADS: '2' } });
});
afterAll(async () => {
  await s?.stop();
});

/** This test's client: the one that may rate its results. */
const CLIENT = 'controls-test';

async function stylize(image: Buffer, fields: Record<string, string>, accept = 'application/json') {
  const form = new FormData();
  form.set('model', 'model1');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('image', new Blob([new Uint8Array(image)]), 'photo.jpg');
  return fetch(`${s.gatewayUrl}/api/stylize`, { method: 'POST', body: form, headers: { accept, 'x-client-id': CLIENT } });
}

async function outputPixels(body: Record<string, unknown>) {
  const bytes = await readFile(path.join(s.storageDir, 'output_images', body.output_image_filename as string));
  return sharp(bytes).raw().toBuffer({ resolveWithObject: true });
}

describe('style controls', () => {
  it('strength 0 returns the resized photo; strength 1 and 0.5 stylise it, recorded in sidecar, request log and feedback', async () => {
    const photo = await readFile(await contentPhoto(4));
    const results: Record<string, { data: Buffer; width: number; height: number; body: Record<string, unknown> }> = {};
    for (const strength of ['0', '0.5', '1']) {
      const res = await stylize(photo, { strength, max_size: '256' });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.strength).toBe(Number(strength));
      const out = await outputPixels(body);
      results[strength] = { data: out.data, width: out.info.width, height: out.info.height, body };
    }
    const { width, height } = results['0']!;
    const original = await sharp(photo).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    expect(meanAbsDiff(results['0']!.data, original)).toBeLessThan(0.01);
    const full = meanAbsDiff(results['1']!.data, original);
    expect(full).toBeGreaterThan(15);
    const half = meanAbsDiff(results['0.5']!.data, original);
    expect(half).toBeGreaterThan(full * 0.35);
    expect(half).toBeLessThan(full * 0.65);

    const sidecar = JSON.parse(await readFile(path.join(s.storageDir, 'output_images', (results['0.5']!.body.output_image_filename as string).replace(/\.png$/, '.json')), 'utf8'));
    expect(sidecar).toMatchObject({ strength: 0.5, preserve_colors: false });
    const log = (await readFile(path.join(s.storageDir, 'requests.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((l) => l.strength)).toEqual(expect.arrayContaining([0, 0.5, 1]));
    const b = results['0.5']!.body;
    const rated = await postJson(`${s.gatewayUrl}/api/feedback`, {
      feedback: 'good',
      model: 'model1',
      content_image_filename: b.content_image_filename,
      output_image_filename: b.output_image_filename,
      timestamp: new Date().toISOString(),
    }, { 'x-client-id': CLIENT });
    expect(rated.status).toBe(201);
    const feedback = (await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(feedback.at(-1)).toMatchObject({ output_image_filename: b.output_image_filename, strength: 0.5, preserve_colors: false });
  });

  it("preserve_colors keeps the photo's chroma and takes the stylised luminance", async () => {
    const photo = await readFile(await contentPhoto(6));
    const plain = await outputPixels((await (await stylize(photo, { max_size: '256' })).json()) as Record<string, unknown>);
    const keptRes = await stylize(photo, { max_size: '256', preserve_colors: 'true' });
    const kept = await outputPixels((await keptRes.json()) as Record<string, unknown>);
    const original = await sharp(photo).resize(kept.info.width, kept.info.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    expect(chromaDifference(kept.data, original)).toBeLessThan(2);
    expect(chromaDifference(plain.data, original)).toBeGreaterThan(8);
    // Still stylised: the luminance is the network's, not the photo's.
    expect(meanAbsDiff(kept.data, original)).toBeGreaterThan(10);
    expect(imageStats(kept.data, kept.info.width, kept.info.height).neighbourCorrelation).toBeGreaterThan(0.5);
  });

  it('rejects bad controls with a clear 400', async () => {
    const photo = await readFile(await contentPhoto(4));
    for (const fields of [{ strength: '1.5' }, { strength: 'abc' }, { preserve_colors: 'maybe' }] as Record<string, string>[]) {
      const res = await stylize(photo, fields);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/strength|preserve_colors/);
    }
  });
});

describe('4K photos', () => {
  it('a 3840×2160 photo comes back at 3840×2160 with tile progress, the inference process under 1.5 GB', async () => {
    const photo = await sharp(await contentPhoto(8)).resize(3840, 2160, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
    const res = await stylize(photo, { max_size: '3840', format: 'jpeg' }, 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const progress = lines.filter((l) => 'tiles_done' in l);
    const last = lines.at(-1)!;
    expect(last.error, JSON.stringify(last)).toBeUndefined();
    const result = last.result as Record<string, unknown>;
    expect([result.width, result.height]).toEqual([3840, 2160]);
    expect(progress.length).toBeGreaterThan(4);
    expect(progress.at(-1)).toEqual({ tiles_done: progress.length, tiles_total: progress.length });
    const out = await outputPixels(result);
    expect([out.info.width, out.info.height]).toEqual([3840, 2160]);

    const pid = s.stack.pid('inference-model1')!;
    const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    expect(peakKb / 1024, 'peak RSS of the inference process, MB').toBeLessThan(1536);
  }, 600_000);
});

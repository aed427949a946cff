/**
 * The arbitrary-style model (`custom`, kind arbitrary) on the real stack: style images
 * uploaded and listed, a photo stylised with an uploaded painting (by id and as a file in the
 * same request), strength as a blend, and the style recorded with the feedback.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageStats, meanAbsDiff } from '../support/imageStats.ts';
import { contentPhoto, dataMirror, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, postJson } from '../support/http.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ models: ['model1=wave', 'custom=arbitrary'] });
});
afterAll(async () => {
  await s?.stop();
});

const painting = (name: string) => path.join(dataMirror()!, 'images/style', name);

/** This test's client: the one that may rate its results. */
const CLIENT = 'arbitrary-test';

async function post(url: string, files: Record<string, Buffer>, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  for (const [k, v] of Object.entries(files)) form.set(k, new Blob([new Uint8Array(v)]), `${k}.jpg`);
  const res = await fetch(url, { method: 'POST', body: form, headers: { 'x-client-id': CLIENT } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function pixels(body: Record<string, unknown>) {
  return sharp(await readFile(path.join(s.storageDir, 'output_images', body.output_image_filename as string))).raw().toBuffer({ resolveWithObject: true });
}

describe('arbitrary style', () => {
  let styleId: string;

  it('lists the model with its kind, and stores, lists and thumbnails an uploaded painting', async () => {
    const models = (await getJson(`${s.gatewayUrl}/api/models`)).body.models as Record<string, unknown>[];
    expect(models.find((m) => m.name === 'custom')).toMatchObject({ kind: 'arbitrary', live_version: 'custom_v1', thumbnail_url: null });
    expect(models.find((m) => m.name === 'model1')).toMatchObject({ kind: 'fast-style' });

    const up = await post(`${s.gatewayUrl}/api/styles`, { image: await readFile(painting('starry_night.jpg')) }, { title: 'Starry Night' });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    styleId = up.body.id as string;
    expect(styleId).toMatch(/^st_[0-9a-f]{32}$/);
    expect(up.body.title).toBe('Starry Night');
    const thumb = await fetch(`${s.gatewayUrl}${up.body.thumbnail_url}`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(256);
    const list = (await getJson(`${s.gatewayUrl}/api/styles`)).body.styles as Record<string, unknown>[];
    expect(list.map((x) => x.id)).toContain(styleId);

    expect((await post(`${s.gatewayUrl}/api/styles`, { image: Buffer.from('not an image at all') })).status).toBe(415);
    expect((await post(`${s.gatewayUrl}/api/styles`, {})).status).toBe(400);
  });

  it('stylises a photo with the uploaded painting; strength blends; feedback records the style', async () => {
    const photo = await readFile(await contentPhoto(3));
    const full = await post(`${s.gatewayUrl}/api/stylize`, { image: photo }, { model: 'custom', style: styleId, max_size: '320' });
    expect(full.status, JSON.stringify(full.body)).toBe(200);
    expect(full.body).toMatchObject({ model: 'custom', style: styleId, strength: 1 });
    const out = await pixels(full.body);
    const original = await sharp(photo).resize(out.info.width, out.info.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const stats = imageStats(out.data, out.info.width, out.info.height);
    expect(stats.std).toBeGreaterThan(20);
    expect(stats.neighbourCorrelation).toBeGreaterThan(0.5);
    expect(meanAbsDiff(out.data, original)).toBeGreaterThan(15);

    // Repeated style (its code is cached) at half strength: halfway between photo and full style.
    const half = await post(`${s.gatewayUrl}/api/stylize`, { image: photo }, { model: 'custom', style: styleId, max_size: '320', strength: '0.5' });
    expect(half.status).toBe(200);
    expect(half.body.strength).toBe(0.5);
    const weak = await pixels(half.body);
    const fullDiff = meanAbsDiff(out.data, original);
    expect(meanAbsDiff(weak.data, original)).toBeGreaterThan(fullDiff * 0.35);
    expect(meanAbsDiff(weak.data, original)).toBeLessThan(fullDiff * 0.65);

    const rated = await postJson(`${s.gatewayUrl}/api/feedback`, {
      feedback: 'good',
      model: 'custom',
      content_image_filename: full.body.content_image_filename,
      output_image_filename: full.body.output_image_filename,
      timestamp: new Date().toISOString(),
    }, { 'x-client-id': CLIENT });
    expect(rated.status).toBe(201);
    const lines = (await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ model: 'custom', style: styleId, strength: 1 });
  });

  it('takes the painting as a style_image file in the same request, and stores it for reuse', async () => {
    const photo = await readFile(await contentPhoto(5));
    const r = await post(`${s.gatewayUrl}/api/stylize`, { image: photo, style_image: await readFile(painting('the_scream.jpg')) }, { model: 'custom', max_size: '256' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const list = (await getJson(`${s.gatewayUrl}/api/styles`)).body.styles as Record<string, unknown>[];
    expect(list.map((x) => x.id)).toContain(r.body.style);
  });

  it('refuses a missing or unknown style, a style for a fixed-style model, and a too-large photo', async () => {
    const photo = await readFile(await contentPhoto(3));
    expect((await post(`${s.gatewayUrl}/api/stylize`, { image: photo }, { model: 'custom' })).status).toBe(400);
    expect((await post(`${s.gatewayUrl}/api/stylize`, { image: photo }, { model: 'custom', style: 'st_00000000000000000000000000000000' })).status).toBe(404);
    expect((await post(`${s.gatewayUrl}/api/stylize`, { image: photo }, { model: 'model1', style: styleId })).status).toBe(400);
    const big = await sharp(photo).resize(1600, 1200).jpeg().toBuffer();
    const r = await post(`${s.gatewayUrl}/api/stylize`, { image: big }, { model: 'custom', style: styleId, max_size: '1600' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/up to 1024/);
  });
});

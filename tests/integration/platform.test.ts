/**
 * The real platform on loopback: four inference services and the gateway, real models on
 * real photos. Every bad input gets its status while the services stay up.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageStats, meanAbsDiff } from '../support/imageStats.ts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, postJson, stylize } from '../support/http.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
});
afterAll(async () => {
  await s?.stop();
});

async function allHealthy(): Promise<boolean> {
  const urls = [s.gatewayUrl, ...Object.values(s.inferenceUrls)];
  const res = await Promise.all(urls.map((u) => fetch(`${u}/health`).then((r) => r.ok, () => false)));
  return res.every(Boolean);
}

describe('stylise through the gateway', () => {
  it.each(['model1', 'model2', 'model3', 'model4'])('%s turns a real photo into artwork', async (model) => {
    const photo = await contentPhoto(1);
    const r = await stylize(s.gatewayUrl, { image: photo, model, max_size: '320' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ model, version: `${model}_v1` });
    expect(r.body.output_image_filename).toMatch(/^out_[0-9a-f-]{36}\.png$/);
    expect(r.body.content_image_filename).toMatch(/^in_[0-9a-f-]{36}\.jpeg$/);
    expect(Math.max(r.body.width as number, r.body.height as number)).toBe(320);
    expect((r.body.timings as Record<string, number>).inference_ms).toBeGreaterThan(0);
    expect(r.headers.get('x-request-id')).toBe(r.body.request_id);

    // Stored on the volume, and served back by the gateway.
    const stored = await readFile(path.join(s.storageDir, 'output_images', r.body.output_image_filename as string));
    const served = Buffer.from(await (await fetch(`${s.gatewayUrl}${r.body.output_url}`)).arrayBuffer());
    expect(served.equals(stored)).toBe(true);
    await readFile(path.join(s.storageDir, 'input_images', r.body.content_image_filename as string));

    const out = await sharp(stored).raw().toBuffer({ resolveWithObject: true });
    expect([out.info.width, out.info.height]).toEqual([r.body.width, r.body.height]);
    const original = await sharp(photo).resize(out.info.width, out.info.height, { fit: 'fill' }).raw().toBuffer();
    const stats = imageStats(out.data, out.info.width, out.info.height);
    expect(stats.std).toBeGreaterThan(20);
    expect(stats.neighbourCorrelation).toBeGreaterThan(0.5);
    expect(meanAbsDiff(out.data, original)).toBeGreaterThan(15);
  });

  it('honours format and max_size, and the seed path /stylize', async () => {
    const photo = await contentPhoto(2);
    const form = new FormData();
    form.set('model', 'model2');
    form.set('format', 'webp');
    form.set('max_size', '128');
    form.set('image', new Blob([new Uint8Array(await readFile(photo))]), 'p.jpg');
    const res = await fetch(`${s.gatewayUrl}/stylize`, { method: 'POST', body: form });
    const body = (await res.json()) as Record<string, string | number>;
    expect(res.status).toBe(200);
    expect(body.output_image_filename).toMatch(/\.webp$/);
    const meta = await sharp(await readFile(path.join(s.storageDir, 'output_images', body.output_image_filename as string))).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBe(128);
  });

  it('lists the models with live versions and serves their paintings', async () => {
    const r = await getJson(`${s.gatewayUrl}/api/models`);
    const models = r.body.models as { name: string; style: string; live_version: string; versions: string[]; thumbnail_url: string }[];
    expect(models.map((m) => [m.name, m.style])).toEqual([
      ['model1', 'wave'],
      ['model2', 'udnie'],
      ['model3', 'scream'],
      ['model4', 'rain_princess'],
    ]);
    expect(models[0]!.live_version).toBe('model1_v1');
    const thumb = await fetch(`${s.gatewayUrl}${models[0]!.thumbnail_url}`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(256);
  });

  it('publishes an OpenAPI document', async () => {
    const r = await getJson(`${s.gatewayUrl}/api/openapi.json`);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(Object.keys(r.body.paths as object)).toEqual(expect.arrayContaining(['/api/stylize', '/api/feedback', '/api/models']));
  });
});

describe('feedback', () => {
  it('appends concurrent ratings, each whole, with the version that made the output', async () => {
    const r = await stylize(s.gatewayUrl, { image: await contentPhoto(3), model: 'model3', max_size: '128' }, { 'x-client-id': 'rater' });
    expect(r.status).toBe(200);
    const base = { model: 'model3', content_image_filename: r.body.content_image_filename, output_image_filename: r.body.output_image_filename };
    const posts = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postJson(`${s.gatewayUrl}${i % 2 ? '/feedback' : '/api/feedback'}`, { ...base, feedback: i % 3 ? 'good' : 'bad', timestamp: new Date().toISOString(), comment: `c${i} ${'é'.repeat(300)}` }, { 'x-client-id': 'rater' }),
      ),
    );
    expect(posts.map((p) => p.status)).toEqual(Array(40).fill(201));
    // One rating per output and client: whichever the gateway took first is recorded, each later one replaces it.
    const answers = posts.map((p) => p.body as { status: string; version: string });
    expect(answers.filter((a) => a.status === 'recorded')).toEqual([{ status: 'recorded', version: 'model3_v1' }]);
    expect(answers.filter((a) => a.status !== 'recorded')).toEqual(Array(39).fill({ status: 'replaced', version: 'model3_v1' }));
    const lines = (await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    const ours = lines.filter((l) => l.output_image_filename === base.output_image_filename);
    expect(ours).toHaveLength(40);
    expect(new Set(ours.map((l) => l.comment!.split(' ')[0])).size).toBe(40);
    expect(ours.every((l) => l.version === 'model3_v1' && l.model === 'model3')).toBe(true);
  });

  it('rejects bad feedback with a reason', async () => {
    const ok = await stylize(s.gatewayUrl, { image: await contentPhoto(4), model: 'model1', max_size: '64' }, { 'x-client-id': 'rater' });
    const base = { feedback: 'good', model: 'model1', content_image_filename: ok.body.content_image_filename, output_image_filename: ok.body.output_image_filename, timestamp: Date.now() };
    const cases: [unknown, number][] = [
      [{ ...base, feedback: 'meh' }, 400],
      [{ ...base, model: undefined }, 400],
      [{ ...base, timestamp: 'yesterday' }, 400],
      [{ ...base, comment: 'x'.repeat(2001) }, 400],
      [{ ...base, model: 'model2' }, 400],
      [{ ...base, model: 'nope' }, 404],
      [{ ...base, output_image_filename: 'out_00000000-0000-0000-0000-000000000000.png' }, 404],
      [{ ...base, output_image_filename: '../../etc/passwd' }, 404],
    ];
    for (const [body, status] of cases) {
      const r = await postJson(`${s.gatewayUrl}/api/feedback`, body, { 'x-client-id': 'rater' });
      expect([r.status, body], JSON.stringify(r.body)).toEqual([status, body]);
      expect(typeof r.body.message).toBe('string');
    }
    const notJson = await fetch(`${s.gatewayUrl}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"feedback":' });
    expect(notJson.status).toBe(400);
  });
});

describe('bad input', () => {
  it('answers each with its status and a message, and every service stays up', async () => {
    const jpeg = await readFile(await contentPhoto(5));
    const bomb = await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#fff' } }).png({ compressionLevel: 9 }).toBuffer();
    const cases: [Parameters<typeof stylize>[1], number, RegExp][] = [
      [{ image: Buffer.from('just some text'), filename: 'x.png', model: 'model1' }, 415, /not an image/],
      [{ image: jpeg.subarray(0, jpeg.length / 3), filename: 'cut.jpg', model: 'model1' }, 422, /cannot be decoded/],
      [{ image: Buffer.alloc(26 * 1024 * 1024, 1), filename: 'huge.jpg', model: 'model1' }, 413, /larger than the limit/],
      [{ image: bomb, filename: 'bomb.png', model: 'model1' }, 413, /more than the limit/],
      [{ image: jpeg, model: 'model99' }, 404, /unknown model/],
      [{ model: 'model1' }, 400, /missing "image"/],
      [{ image: jpeg }, 400, /missing "model"/],
      [{ image: jpeg, model: 'model1', max_size: '99999' }, 400, /max_size/],
      [{ image: jpeg, model: 'model1', format: 'bmp' }, 400, /format/],
    ];
    for (const [fields, status, message] of cases) {
      const r = await stylize(s.gatewayUrl, fields);
      expect(r.status, `${JSON.stringify({ ...fields, image: undefined })}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.message).toMatch(message);
    }
    const notMultipart = await postJson(`${s.gatewayUrl}/api/stylize`, { model: 'model1' });
    expect(notMultipart.status).toBe(415);
    const traversal = await fetch(`${s.gatewayUrl}/api/images/outputs/..%2F..%2Ffeedback.jsonl`);
    expect(traversal.status).toBe(404);
    expect(await allHealthy()).toBe(true);
    expect((await stylize(s.gatewayUrl, { image: jpeg, model: 'model1', max_size: '64' })).status).toBe(200);
  });

  it('answers 503 naming the model when its inference service is down, then recovers', async () => {
    const jpeg = await readFile(await contentPhoto(6));
    await s.stack.stopOne('inference-model4');
    const started = Date.now();
    const r = await stylize(s.gatewayUrl, { image: jpeg, model: 'model4', max_size: '64' });
    expect(r.status).toBe(503);
    expect(r.body.message).toMatch(/model4/);
    expect(r.headers.get('retry-after')).toBeTruthy();
    expect(Date.now() - started).toBeLessThan(10_000);
    // The others still work.
    expect((await stylize(s.gatewayUrl, { image: jpeg, model: 'model1', max_size: '64' })).status).toBe(200);
    const ready = await getJson(`${s.gatewayUrl}/ready`);
    expect((ready.body.models as Record<string, { ready: boolean }>).model4!.ready).toBe(false);
    const service = s.stack.services.find((x) => x.name === 'inference-model4')!;
    s.stack.startOne(service, 'ignore');
    await s.stack.waitReady(60_000);
    expect((await stylize(s.gatewayUrl, { image: jpeg, model: 'model4', max_size: '64' })).status).toBe(200);
  });
});

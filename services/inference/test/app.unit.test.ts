/**
 * Every route of the inference service, in process (Fastify inject): real onnxruntime runs
 * versions of the real style network with made-up weights from a temp model store.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorBodySchema, INFERENCE_PROGRESS_CONTENT_TYPE, inferResultHeadersSchema, inferenceNotReadySchema, inferenceReadySchema, progressLineSchema, type ProgressLine } from '@nst/contracts';
import { buildInferenceApp, type InferenceApp } from '../src/app.ts';
import { loadInferenceConfig } from '../src/config.ts';
import { tinyModelStore, type TinyModelStore } from './support/tinyModelStore.ts';

const WIDTH = 64;
const HEIGHT = 48;

/** A PNG photo with a gradient, and its raw RGB pixels. */
async function photo(width = WIDTH, height = HEIGHT) {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 4) % 256;
      raw[i + 1] = (y * 5) % 256;
      raw[i + 2] = ((x + y) * 3) % 256;
    }
  }
  const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return { raw, png };
}

const rawPixels = async (image: Buffer) => (await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true }));

/** latest.txt is polled only when a test says so (syncLive), never behind its back. */
function config(root: string, env: Record<string, string> = {}) {
  return loadInferenceConfig({ NST_RELOAD_INTERVAL_MS: '3600000', NST_STORAGE_DIR: root, NST_MODELS: 'model1=wave,model2=arbitrary', NST_MODEL: 'model1', NST_ORT_THREADS: '1', LOG_LEVEL: 'silent', ...env });
}

describe('inference service routes', () => {
  let models: TinyModelStore;
  let svc: InferenceApp;
  let input: Awaited<ReturnType<typeof photo>>;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    models = await tinyModelStore();
    v1 = await models.publish('model1', 1);
    v2 = await models.publish('model1', 2);
    await models.store.setLatest('model1', v1);
    input = await photo();
    svc = await buildInferenceApp(config(models.root, { NST_MAX_SIDE_LIMIT: '512' }));
  });
  afterAll(async () => {
    await svc?.app.close();
    await models?.remove();
  });

  const infer = (query = '', payload: Buffer | string = input.png) =>
    svc.app.inject({ method: 'POST', url: `/infer${query}`, payload, headers: { 'content-type': 'application/octet-stream' } });

  it('GET /health answers while nothing is loaded; GET /ready is 503 until a version is', async () => {
    const health = await svc.app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok', service: 'inference-model1' });
    const ready = await svc.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(inferenceNotReadySchema.parse(ready.json())).toEqual({ status: 'loading', model: 'model1' });
    await svc.versions.start();
    const after = await svc.app.inject({ url: '/ready' });
    expect(after.statusCode).toBe(200);
    expect(inferenceReadySchema.parse(after.json())).toEqual({ status: 'ready', model: 'model1', style: 'wave', kind: 'fast-style', version: v1, loaded: [v1] });
  });

  it('POST /infer runs the live version: an image of the photo\'s size, the run\'s facts in headers', async () => {
    const res = await infer();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    const facts = inferResultHeadersSchema.parse(res.headers);
    expect(facts).toMatchObject({ 'x-model': 'model1', 'x-model-version': v1, 'x-image-width': String(WIDTH), 'x-image-height': String(HEIGHT), 'x-strength': '1', 'x-preserve-colors': 'false' });
    expect(Number(facts['x-timing-inference-ms'])).toBeGreaterThan(0);
    const out = await rawPixels(res.rawPayload);
    expect([out.info.width, out.info.height]).toEqual([WIDTH, HEIGHT]);
    // The network changed the photo (strength 1).
    expect(out.data.equals(input.raw)).toBe(false);
  });

  it('strength 0 gives the photo back exactly; other formats and sizes are honoured', async () => {
    const res = await infer('?strength=0');
    expect(res.statusCode).toBe(200);
    expect((await rawPixels(res.rawPayload)).data.equals(input.raw)).toBe(true);
    const small = await infer('?format=jpeg&max_size=32');
    expect(small.statusCode).toBe(200);
    expect(small.headers['content-type']).toBe('image/jpeg');
    expect([small.headers['x-image-width'], small.headers['x-image-height']]).toEqual(['32', '24']);
  });

  it('a pinned version runs that version; an unknown one is 404', async () => {
    const [live, pinned] = await Promise.all([infer(), infer(`?version=${v2}`)]);
    expect(pinned.statusCode).toBe(200);
    expect(pinned.headers['x-model-version']).toBe(v2);
    expect(pinned.rawPayload.equals(live.rawPayload)).toBe(false);
    const unknown = await infer('?version=model1_v9');
    expect(unknown.statusCode).toBe(404);
    expect(errorBodySchema.parse(unknown.json()).message).toBe('model1 has no version model1_v9');
    const ready = inferenceReadySchema.parse((await svc.app.inject({ url: '/ready' })).json());
    expect(ready.loaded).toEqual([v1, v2]);
  });

  it('progress=1 streams tile lines, then the result line and exactly the image bytes', async () => {
    const res = await infer('?progress=1');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(INFERENCE_PROGRESS_CONTENT_TYPE);
    const body = res.rawPayload;
    const lines: ProgressLine[] = [];
    let at = 0;
    let result: Extract<ProgressLine, { result: unknown }> | undefined;
    while (!result) {
      const nl = body.indexOf(10, at);
      expect(nl).toBeGreaterThan(at);
      const line = progressLineSchema.parse(JSON.parse(body.subarray(at, nl).toString('utf8')));
      lines.push(line);
      at = nl + 1;
      if ('result' in line) result = line;
    }
    expect(lines[0]).toEqual({ tiles_done: 1, tiles_total: 1 });
    expect(result.result['x-model-version']).toBe(v1);
    const image = body.subarray(at);
    expect(image.byteLength).toBe(result.bytes);
    expect((await rawPixels(image)).info.width).toBe(WIDTH);
  });

  it('a photo larger than the untiled limit runs in tiles, each one reported, and comes back at the photo\'s size', async () => {
    const tiled = await buildInferenceApp(config(models.root, { NST_UNTILED_MAX_SIDE: '128', NST_TILE_SIZE: '128', NST_TILE_OVERLAP: '32', NST_THUMBNAIL_SIDE: '128' }));
    try {
      await tiled.versions.start();
      const big = await photo(256, 160);
      const res = await tiled.app.inject({ method: 'POST', url: '/infer?progress=1', payload: big.png, headers: { 'content-type': 'image/png' } });
      expect(res.statusCode).toBe(200);
      const text = res.rawPayload.toString('latin1');
      const tiles = [...text.matchAll(/\{"tiles_done":(\d+),"tiles_total":(\d+)\}\n/g)].map((m) => [Number(m[1]), Number(m[2])]);
      const total = tiles[0]![1]!;
      expect(total).toBeGreaterThan(1);
      expect(tiles).toEqual(Array.from({ length: total }, (_, i) => [i + 1, total]));
      expect(text).toMatch(/"x-image-width":"256","x-image-height":"160"/);
    } finally {
      await tiled.app.close();
    }
  });

  it.each([
    ['an empty body', '', '', 400, /the request body must be the image bytes/],
    ['max_size below 16', '?max_size=8', null, 400, /max_size must be an integer/],
    ['max_size above the limit', '?max_size=513', null, 400, /max_size must be an integer from 16 to 512/],
    ['max_size not a number', '?max_size=big', null, 400, /max_size must be an integer/],
    ['an unknown format', '?format=gif', null, 400, /format must be one of png, jpeg, webp/],
    ['strength out of range', '?strength=2', null, 400, /strength must be a number from 0 to 1/],
    ['preserve_colors not a boolean', '?preserve_colors=maybe', null, 400, /preserve_colors must be true or false/],
    ['progress not 0 or 1', '?progress=yes', null, 400, /progress must be 0 or 1/],
    ['bytes that are no image', '', 'not an image at all', 415, /not an image/],
  ] as const)('refuses %s with a %s-class answer naming the problem', async (_what, query, payload, status, message) => {
    const res = await infer(query, payload ?? input.png);
    expect(res.statusCode).toBe(status);
    const body = errorBodySchema.parse(res.json());
    expect(body.message).toMatch(message);
    expect(body.request_id).toBe(res.headers['x-request-id']);
  });

  it('a body over the upload limit is 413', async () => {
    const tight = await buildInferenceApp(config(models.root, { NST_MAX_UPLOAD_BYTES: '1000' }));
    try {
      const res = await tight.app.inject({ method: 'POST', url: '/infer', payload: Buffer.alloc(2000, 1), headers: { 'content-type': 'image/png' } });
      expect(res.statusCode).toBe(413);
    } finally {
      await tight.app.close();
    }
  });

  it('queues up to NST_QUEUE_SIZE behind the running request, sheds the rest with 503 + Retry-After, and counts them', async () => {
    const busy = await buildInferenceApp(config(models.root, { NST_INFER_CONCURRENCY: '1', NST_QUEUE_SIZE: '1' }));
    try {
      await busy.versions.start();
      const send = () => busy.app.inject({ method: 'POST', url: '/infer', payload: input.png, headers: { 'content-type': 'image/png' } });
      // Hold the one slot, as a long run would.
      let release!: () => void;
      const holding = busy.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
      const waiting = send();
      await vi.waitFor(() => expect(busy.queue.depth).toBe(1));
      const shed = await send();
      expect(shed.statusCode).toBe(503);
      expect(shed.headers['retry-after']).toBe('1');
      expect(errorBodySchema.parse(shed.json()).message).toBe('model1 is busy: the inference queue is full (1 waiting); retry shortly');
      const metrics = (await busy.app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/nst_inference_rejected_total\{[^}]*model="model1"[^}]*\} 1\n/);
      expect(metrics).toMatch(/nst_inference_queue_depth\{[^}]*model="model1"[^}]*\} 1\n/);
      release();
      await holding;
      const ran = await waiting;
      expect(ran.statusCode).toBe(200);
      expect(Number(ran.headers['x-timing-queue-ms'])).toBeGreaterThan(0);
    } finally {
      await busy.app.close();
    }
  });

  it('a waiting request whose client leaves is dropped unrun and counted, freeing its place in the queue', async () => {
    const busy = await buildInferenceApp(config(models.root, { NST_INFER_CONCURRENCY: '1', NST_QUEUE_SIZE: '1' }));
    try {
      // The client's side of the connection: closing the response before it is written is what a client leaving looks like.
      const leaving: Array<() => void> = [];
      busy.app.addHook('onRequest', async (req, reply) => {
        if (req.headers['x-test-leaves']) leaving.push(() => reply.raw.destroy());
      });
      await busy.versions.start();
      let release!: () => void;
      const holding = busy.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
      const left = busy.app.inject({ method: 'POST', url: '/infer', payload: input.png, headers: { 'content-type': 'image/png', 'x-test-leaves': '1' } }).catch((e: Error) => e);
      await vi.waitFor(() => expect(busy.queue.depth).toBe(1));
      leaving[0]!();
      await vi.waitFor(() => expect(busy.queue.depth).toBe(0));
      expect(busy.queue.cancelled).toBe(1);
      await left;
      // Its place is free: the next request queues instead of being shed.
      const next = busy.app.inject({ method: 'POST', url: '/infer', payload: input.png, headers: { 'content-type': 'image/png' } });
      await vi.waitFor(() => expect(busy.queue.depth).toBe(1));
      release();
      await holding;
      expect((await next).statusCode).toBe(200);
      const metrics = (await busy.app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/nst_inference_cancelled_total\{[^}]*model="model1"[^}]*\} 1\n/);
      // One network run: the request that left never ran.
      expect(metrics).toMatch(/nst_inference_duration_seconds_count\{[^}]*model="model1"[^}]*\} 1\n/);
    } finally {
      await busy.app.close();
    }
  });

  it('a live version whose artefact does not match its card is not switched to, and /ready says so', async () => {
    const v3 = await models.publish('model1', 3);
    await writeFile(models.store.onnxPath('model1', v3), Buffer.alloc((await models.store.card('model1', v3)).artefact.bytes, 7));
    await models.store.setLatest('model1', v3);
    await svc.versions.syncLive();
    const ready = inferenceReadySchema.parse((await svc.app.inject({ url: '/ready' })).json());
    expect(ready.version).toBe(v1);
    expect(ready.failed).toMatchObject({ version: v3, reason: expect.stringMatching(/sha256/) });
    expect((await infer()).headers['x-model-version']).toBe(v1);
    await models.store.setLatest('model1', v1);
    await svc.versions.syncLive();
    expect(inferenceReadySchema.parse((await svc.app.inject({ url: '/ready' })).json()).failed).toBeUndefined();
  });
});

describe('the arbitrary-style model', () => {
  it('needs a style id (400) naming an uploaded style image (404), checked before any model loads', async () => {
    const models = await tinyModelStore();
    const svc = await buildInferenceApp(config(models.root, { NST_MODEL: 'model2' }));
    try {
      const { png } = await photo();
      const send = (query: string) => svc.app.inject({ method: 'POST', url: `/infer${query}`, payload: png, headers: { 'content-type': 'image/png' } });
      const missing = await send('');
      expect(missing.statusCode).toBe(400);
      expect(missing.json().message).toBe('model2 needs a style: the "style" id of an uploaded style image');
      const unknown = await send('?style=nosuchstyle');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().message).toBe('no style image "nosuchstyle"');
      const nothingLoaded = await svc.app.inject({ url: '/ready' });
      expect(nothingLoaded.statusCode).toBe(503);
    } finally {
      await svc.app.close();
      await models.remove();
    }
  });
});

/** Every gateway route in-process (Fastify inject): its answer, and a refusal with the error body. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, feedbackEntrySchema, feedbackResponseSchema, modelCardSchema, modelHistorySchema, modelStatsSchema, modelsResponseSchema, readinessSchema, releaseChangeSchema, styleImageSchema, styleListSchema, stylizeResponseSchema, uiConfigSchema } from '@nst/contracts';
import { HttpError } from '@nst/common';
import { ADMIN_TOKEN, JPEG, MAX_UPLOAD_BYTES, QUEUED_JOB, inProcessGateway, multipart, type InProcessGateway } from './support/inProcessGateway.ts';

let gw: InProcessGateway;
beforeAll(async () => {
  gw = await inProcessGateway();
});
afterAll(() => gw?.close());

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const client = { 'x-client-id': 'client-a' };
const photo = { file: JPEG, name: 'photo.jpg', type: 'image/jpeg' };

async function expectError(res: { statusCode: number; json(): unknown }, status: number, message: RegExp) {
  expect(res.statusCode).toBe(status);
  const body = errorBodySchema.parse(res.json());
  expect(body).toMatchObject({ statusCode: status, message: expect.stringMatching(message) });
}

async function stylise(fields: Record<string, string | typeof photo> = { model: 'model1', image: photo }) {
  const form = multipart(fields);
  return gw.app.inject({ method: 'POST', url: '/api/stylize', headers: { ...form.headers, ...client }, payload: form.payload });
}

describe('gateway routes in-process', () => {
  it('GET /ready and /api/models describe the models', async () => {
    const ready = await gw.app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(readinessSchema.parse(ready.json())).toMatchObject({ status: 'ready', models: { model1: { ready: true } }, store: { ok: true, backend: 'file' } });
    const models = modelsResponseSchema.parse((await gw.app.inject('/api/models')).json()).models;
    expect(models.map((m) => [m.name, m.kind, m.live_version, m.versions])).toEqual([
      ['model1', 'fast-style', 'model1_v1', ['model1_v1', 'model1_v2']],
      ['custom', 'arbitrary', null, []],
    ]);
  });

  it('POST /api/stylize stores the result; a bad form is a 4xx naming the problem', async () => {
    const res = await stylise();
    expect(res.statusCode).toBe(200);
    const result = stylizeResponseSchema.parse(res.json());
    expect(result).toMatchObject({ model: 'model1', version: 'model1_v1', routing: 'live', width: 40, height: 30, strength: 1, preserve_colors: false });
    const image = await gw.app.inject(result.output_url);
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    await expectError(await stylise({ model: 'model9', image: photo }), 404, /unknown model "model9"; known: model1, custom/);
    await expectError(await stylise({ model: 'model1' }), 400, /missing "image"/);
    await expectError(await stylise({ model: 'model1', format: 'bmp', image: photo }), 400, /format must be one of png, jpeg, webp/);
    await expectError(await stylise({ model: 'model1', strength: '2', image: photo }), 400, /strength must be a number from 0 to 1/);
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/stylize', payload: { model: 'model1' } }), 415, /multipart/);
    gw.failNextInference(new HttpError(503, 'model model1: busy', { 'retry-after': '2' }));
    const busy = await stylise();
    await expectError(busy, 503, /model model1: busy/);
    expect(busy.headers['retry-after']).toBe('2');
  });

  it('GET /api/config tells the page the configured upload limits, which POST /api/stylize enforces', async () => {
    const res = await gw.app.inject('/api/config');
    expect(res.statusCode).toBe(200);
    expect(uiConfigSchema.parse(res.json())).toEqual({ max_upload_bytes: MAX_UPLOAD_BYTES, max_style_bytes: MAX_UPLOAD_BYTES / 2 });
    const tooBig = { file: Buffer.concat([JPEG, Buffer.alloc(MAX_UPLOAD_BYTES)]), name: 'big.jpg', type: 'image/jpeg' };
    await expectError(await stylise({ model: 'model1', image: tooBig }), 413, /256 KB|262144|too large|limit/i);
  });

  it('GET /ready answers 503 with its own body while the gateway stops', async () => {
    gw.app.draining = true;
    try {
      const res = await gw.app.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'draining', service: 'gateway' });
      await expectError(await gw.app.inject('/api/models'), 503, /shutting down/);
    } finally {
      gw.app.draining = false;
    }
  });

  it('POST /api/feedback records a rating by the maker; others are refused', async () => {
    const made = stylizeResponseSchema.parse((await stylise()).json());
    const rating = { feedback: 'bad', model: 'model1', content_image_filename: made.content_image_filename, output_image_filename: made.output_image_filename, timestamp: Date.now() };
    const res = await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: client, payload: rating });
    expect(res.statusCode).toBe(201);
    expect(feedbackResponseSchema.parse(res.json())).toEqual({ status: 'recorded', version: 'model1_v1' });
    const again = await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: client, payload: { ...rating, feedback: 'good' } });
    expect(again.json()).toEqual({ status: 'replaced', version: 'model1_v1' });
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: { 'x-client-id': 'client-b' }, payload: rating }), 403, /only its maker/);
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: client, payload: { ...rating, feedback: 'meh' } }), 400, /feedback/);
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: client, payload: { ...rating, extra: 1 } }), 400, /extra/);
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/feedback', headers: client, payload: { ...rating, model: 'model9' } }), 404, /unknown model/);
  });

  it('GET /api/models/:model/stats, /history and a version card; an unknown model is a 404 on each', async () => {
    const stats = modelStatsSchema.parse((await gw.app.inject('/api/models/model1/stats')).json());
    expect(stats.versions.map((v) => v.version)).toEqual(['model1_v1', 'model1_v2']);
    expect(stats.versions[0]!.bad_rate_ci95).toHaveLength(2);
    const history = modelHistorySchema.parse((await gw.app.inject('/api/models/model1/history')).json());
    expect(history.history[0]).toMatchObject({ action: 'publish', to: 'model1_v1' });
    const card = modelCardSchema.parse((await gw.app.inject('/api/models/model1/versions/model1_v2')).json());
    expect(card).toMatchObject({ model: 'model1', version: 'model1_v2', version_number: 2 });
    await expectError(await gw.app.inject('/api/models/model1/versions/model1_v9'), 404, /no version model1_v9/);
    for (const url of ['/api/models/nope/stats', '/api/models/nope/history', '/api/models/nope/versions/nope_v1', '/api/models/nope/style.jpg']) {
      await expectError(await gw.app.inject(url), 404, /unknown model "nope"/);
    }
  });

  it('GET /api/models/:model/style.jpg serves the painting and thumbnails; a bad width is a 400', async () => {
    const full = await gw.app.inject('/api/models/model1/style.jpg');
    expect(full.statusCode).toBe(200);
    expect(full.rawPayload.equals(JPEG)).toBe(true);
    const thumb = await gw.app.inject('/api/models/model1/style.jpg?w=20');
    expect(thumb.statusCode).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/jpeg');
    await expectError(await gw.app.inject('/api/models/model1/style.jpg?w=5'), 400, /w must be an integer from 16 to 1024/);
  });

  it('GET /api/images/:kind/:name serves only names the store made', async () => {
    await expectError(await gw.app.inject('/api/images/outputs/..%2Fsecret.png'), 404, /no image/);
    await expectError(await gw.app.inject('/api/images/elsewhere/x.png'), 404, /inputs|outputs/);
  });

  it('POST and GET /api/styles, and a style image; a missing file is a 400', async () => {
    const form = multipart({ title: 'Test painting', image: photo });
    const res = await gw.app.inject({ method: 'POST', url: '/api/styles', headers: form.headers, payload: form.payload });
    expect(res.statusCode).toBe(201);
    const style = styleImageSchema.parse(res.json());
    expect(style).toMatchObject({ title: 'Test painting', width: 40, height: 30 });
    expect(styleListSchema.parse((await gw.app.inject('/api/styles')).json()).styles.map((s) => s.id)).toContain(style.id);
    const image = await gw.app.inject(style.image_url);
    expect(image.statusCode).toBe(200);
    expect((await gw.app.inject(style.thumbnail_url)).headers['content-type']).toBe('image/jpeg');
    const empty = multipart({ title: 'no file' });
    await expectError(await gw.app.inject({ method: 'POST', url: '/api/styles', headers: empty.headers, payload: empty.payload }), 400, /missing "image"/);
    await expectError(await gw.app.inject('/api/styles/st_00000000000000000000000000000000/image'), 404, /no style image/);
  });

  it('admin canary, promote and rollback change the routing; without the token or with a bad body they are refused', async () => {
    const post = (url: string, payload: object, headers: Record<string, string> = admin) => gw.app.inject({ method: 'POST', url, headers, payload });
    await expectError(await post('/api/admin/models/model1/canary', { percent: 10 }, {}), 401, /token|bearer|authori/i);
    await expectError(await post('/api/admin/models/model1/canary', { percent: 101 }), 400, /percent/);
    await expectError(await post('/api/admin/models/nope/canary', { percent: 10 }), 404, /unknown model "nope"/);
    const canary = releaseChangeSchema.parse((await post('/api/admin/models/model1/canary', { version: 'model1_v2', percent: 25, reason: 'try' })).json());
    expect(canary.change).toMatchObject({ action: 'canary', to: 'model1_v2', percent: 25 });
    const promoted = releaseChangeSchema.parse((await post('/api/admin/models/model1/promote', {})).json());
    expect(promoted.change).toMatchObject({ action: 'promote', to: 'model1_v2' });
    const rolledBack = releaseChangeSchema.parse((await post('/api/admin/models/model1/rollback', { version: 'model1_v1' })).json());
    expect(rolledBack.change).toMatchObject({ action: 'rollback', to: 'model1_v1' });
    await expectError(await post('/api/admin/models/model1/rollback', { version: 'model1_v1', surprise: true }), 400, /surprise/);
  });

  it('admin feedback export streams the ratings as JSON Lines', async () => {
    const res = await gw.app.inject({ url: '/api/admin/feedback/export', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(res.body.trim().split('\n').map((l) => feedbackEntrySchema.parse(JSON.parse(l)))[0]).toMatchObject({ feedback: 'good', model: 'model1' });
    await expectError(await gw.app.inject('/api/admin/feedback/export'), 401, /./);
  });

  it('admin jobs relay the fine-tuning service, status and body as they are', async () => {
    expect((await gw.app.inject({ url: '/api/admin/jobs', headers: admin })).json()).toEqual({ jobs: [QUEUED_JOB] });
    const started = await gw.app.inject({ method: 'POST', url: '/api/admin/finetune', headers: admin, payload: { model: 'model1', steps: 10 } });
    expect(started.statusCode).toBe(202);
    expect(gw.finetuneCalls.at(-1)).toEqual({ method: 'POST', path: '/finetune', body: { model: 'model1', steps: 10 } });
    expect((await gw.app.inject({ url: '/api/admin/jobs/job-1', headers: admin })).json()).toMatchObject({ id: 'job-1' });
    expect((await gw.app.inject({ method: 'DELETE', url: '/api/admin/jobs/job-1', headers: admin })).statusCode).toBe(200);
    const again = await gw.app.inject({ method: 'POST', url: '/api/admin/jobs/job-1/retry', headers: admin });
    expect(again.statusCode).toBe(202);
    expect(gw.finetuneCalls.at(-1)).toMatchObject({ method: 'POST', path: '/jobs/job-1/retry' });
    await expectError(await gw.app.inject({ url: '/api/admin/jobs/missing', headers: admin }), 404, /no job/);
    await expectError(await gw.app.inject({ url: '/api/admin/jobs' }), 401, /./);
  });
});

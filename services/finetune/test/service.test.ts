/**
 * The fine-tuning service on a free port with a real temporary model store: a short real
 * fine-tune (4 steps at 64², 4 photos + 1 curated upload), queueing, cancelling, and the 4xx
 * answers for bad requests and missing data.
 */
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { buildFinetuneApp, type FinetuneApp } from '../src/http/app.ts';
import { loadFinetuneConfig } from '../src/config.ts';

const mirror = process.env.NST_DATA_MIRROR;
const TOKEN = 'finetune-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
// 3 base photos + 1 curated upload, all in every batch, so the training loss is comparable step to step.
const SHORT = { model: 'model1', steps: 4, image_size: 64, batch_size: 4, max_images: 3, heldout_images: 2, learning_rate: 2e-3 };

let dir: string;
let store: ModelStore;
let svc: FinetuneApp;
let base: string;

async function api(method: string, url: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function waitFor(id: string, done: (job: Record<string, any>) => boolean, timeoutMs = 120_000) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api('GET', `/jobs/${id}`);
    if (done(body)) return body;
    if (Date.now() > until) throw new Error(`job ${id} still ${body.state} (${body.phase})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const finished = (j: Record<string, unknown>) => ['succeeded', 'failed', 'cancelled'].includes(j.state as string);

async function start(env: Record<string, string>): Promise<{ app: FinetuneApp; url: string }> {
  const config = loadFinetuneConfig({ NST_STORAGE_DIR: dir, NST_MODELS: 'model1=wave,model2=udnie', NST_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', NST_FINETUNE_THREADS: '2', ...env });
  const app = await buildFinetuneApp(config);
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}` };
}

beforeAll(async () => {
  if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
  dir = await mkdtemp(path.join(tmpdir(), 'nst-finetune-'));
  store = new ModelStore(dir);
  const loc = { mirror, cacheDir: path.join(dir, 'data-cache') };
  await pullPretrained(store, { name: 'model1', style: 'wave' }, loc);
  await pullPretrained(store, { name: 'model2', style: 'udnie' }, loc);
  await rm(store.styleImagePath('model2')); // model2 lacks its painting
  // One upload rated bad for model1 (twice: deduplicated), one for model2, one good.
  await mkdir(path.join(dir, 'input_images'), { recursive: true });
  await copyFile(path.join(mirror, 'images/content/train/100075.jpg'), path.join(dir, 'input_images/u1.jpg'));
  const line = (feedback: string, model: string) =>
    JSON.stringify({ feedback, model, version: `${model}_v1`, content_image_filename: 'u1.jpg', output_image_filename: 'o1.png', timestamp: new Date().toISOString() });
  await writeFile(path.join(dir, 'feedback.jsonl'), [line('bad', 'model1'), line('bad', 'model1'), line('good', 'model1'), line('bad', 'model2'), ''].join('\n'));
  const s = await start({ NST_DATA_MIRROR: mirror });
  svc = s.app;
  base = s.url;
});

afterAll(async () => {
  await svc?.app.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('finetune service', () => {
  it('answers /health, /ready and needs the admin token', async () => {
    expect((await api('GET', '/health', undefined, {})).status).toBe(200);
    expect((await api('GET', '/ready', undefined, {})).status).toBe(200);
    expect((await api('POST', '/finetune', SHORT, {})).status).toBe(401);
    expect((await api('GET', '/jobs', undefined, { authorization: 'Bearer wrong-token-wrong-token-00' })).status).toBe(401);
  });

  it('refuses bad requests and missing data with a 4xx and the reason', async () => {
    const unknown = await api('POST', '/finetune', { ...SHORT, model: 'model9' });
    expect(unknown).toMatchObject({ status: 404, body: { message: expect.stringMatching(/unknown model model9/) } });
    expect((await api('POST', '/finetune', { ...SHORT, version: 'model1_v99' })).status).toBe(404);
    const range = await api('POST', '/finetune', { ...SHORT, image_size: 1024, learning_rate: -1 });
    expect(range.status).toBe(400);
    expect(range.body.message).toMatch(/image_size/);
    expect(range.body.message).toMatch(/learning_rate/);
    expect((await api('POST', '/finetune', { ...SHORT, epochs: 1 })).status).toBe(400);
    const style = await api('POST', '/finetune', { ...SHORT, model: 'model2' });
    expect(style).toMatchObject({ status: 422, body: { message: expect.stringMatching(/style image missing/) } });
    const few = await api('POST', '/finetune', { ...SHORT, data: 'feedback' });
    expect(few).toMatchObject({ status: 422, body: { message: expect.stringMatching(/too few usable images: 1 usable.*batch_size 4/) } });
  });

  it('refuses a job when the VGG weights are corrupt', async () => {
    const badMirror = path.join(dir, 'bad-mirror');
    await cp(path.join(mirror!, 'models/vgg19'), path.join(badMirror, 'models/vgg19'), { recursive: true });
    await writeFile(path.join(badMirror, 'models/vgg19/group3-shard1of1'), 'corrupt');
    const other = await start({ NST_DATA_MIRROR: badMirror });
    try {
      const res = await fetch(`${other.url}/finetune`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(SHORT) });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { message: string }).message).toMatch(/VGG weights missing or corrupt/);
    } finally {
      await other.app.app.close();
    }
  });

  it('fine-tunes for real, queues a second job, cancels queued and running jobs', async () => {
    const first = await api('POST', '/finetune', { ...SHORT, data: 'both' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id: expect.any(String), steps: 4, dataset: { images: 4, curated_uploads: 1, base_photos: 3 } });
    const second = await api('POST', '/finetune', { ...SHORT, publish: 'none' });
    expect(second.body.state).toBe('queued');
    const third = await api('POST', '/finetune', { ...SHORT, steps: 500 });
    expect(third.body.state).toBe('queued');
    const cancelled = await api('DELETE', `/jobs/${second.body.id}`);
    expect(cancelled.body.state).toBe('cancelled');

    const done = await waitFor(first.body.id, finished);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    expect(done.loss_history).toHaveLength(4);
    const losses = done.loss_history.map((l: { total: number }) => l.total);
    expect(losses.at(-1)).toBeLessThan(losses[0]);
    // The default engine, recorded in the job and on the model card.
    expect(done.backend).toMatch(/^onnx/);
    const version = done.result.version as string;
    expect(version).toBe('model1_v2');
    const card = await store.card('model1', version);
    expect(card).toMatchObject({ parent: 'model1_v1', training: { params: { steps: 4, image_size: 64, batch_size: 4 }, dataset: { size: 4, curated_uploads: 1 } } });
    expect((card.training as { dataset: { sha256: string } }).dataset.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((card.training as { backend: string }).backend).toBe(done.backend);
    expect(card.metrics).toHaveProperty('heldout_parent.total');
    expect(card.metrics).toHaveProperty('heldout_trained.total');
    const latest = await store.latest('model1');
    if (done.result.published) {
      expect(latest).toBe(version);
      expect(done.result.reason).toMatch(/quality gate passed/);
    } else {
      expect(latest).toBe('model1_v1');
      expect(done.result.reason).toMatch(/quality gate failed/);
    }
    expect((await stat(store.onnxPath('model1', version))).size).toBeGreaterThan(1_000_000);

    // The long job starts once the first is done; cancelling it stops the worker, publishes nothing.
    await waitFor(third.body.id, (j) => j.state === 'running' && j.step >= 1);
    expect((await api('DELETE', `/jobs/${third.body.id}`)).status).toBe(200);
    const stopped = await waitFor(third.body.id, finished, 10_000);
    expect(stopped.state).toBe('cancelled');
    expect(await store.versions('model1')).toEqual([1, 2]);
    expect((await api('DELETE', `/jobs/${third.body.id}`)).status).toBe(409);

    const list = await api('GET', '/jobs');
    expect(list.body.jobs.map((j: { id: string }) => j.id)).toEqual([third.body.id, second.body.id, first.body.id]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const sample = (name: string, labels: string[]) =>
      metrics.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))?.split(' ')[1];
    expect(sample('nst_training_jobs', ['state="succeeded"'])).toBe('1');
    expect(sample('nst_training_jobs_total', ['model="model1"', 'state="cancelled"'])).toBe('2');
    expect(Number(sample('nst_training_step_seconds_count', ['model="model1"']))).toBeGreaterThanOrEqual(4);
    expect(JSON.parse(await readFile(path.join(store.modelDir('model1'), `${version}.json`), 'utf8')).version).toBe(version);
  }, 300_000);
});

/**
 * The fine-tuning API in-process (Fastify inject): every route with its happy path and its
 * refusals, the bodies checked against the contracts the clients import, and the OpenAPI
 * document listing every route with its schemas.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createService } from '@nst/common';
import { jobListSchema, jobSchema } from '@nst/contracts';
import { jobRoutes } from '../src/http/jobRoutes.ts';
import { registerOpenApi } from '../src/http/openApi.ts';
import { JobQueue } from '../src/jobs/jobQueue.ts';
import type { PreparedJob } from '../src/jobs/prepare.ts';
import { settle, stubPrepare, stubRunner, type StubRun } from './fixtures/stubJobs.ts';

const TOKEN = 'unit-test-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let app: FastifyInstance;
let queue: JobQueue<PreparedJob>;
let runs: Map<string, StubRun>;
/** Every route the API registers (method and URL), as Fastify saw them. */
let routes: { method: string; url: string; hidden: boolean }[];

beforeEach(async () => {
  const stub = stubRunner<PreparedJob>();
  runs = stub.runs;
  queue = new JobQueue<PreparedJob>(stub.runner, { maxQueued: 1, keepFinished: 10, runner: 'local' });
  app = createService({ service: 'finetune', logLevel: 'silent' });
  routes = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ method: m.toLowerCase(), url: r.url, hidden: Boolean((r.schema as { hide?: boolean } | undefined)?.hide) });
  });
  await registerOpenApi(app);
  jobRoutes(app, { queue, prepare: stubPrepare, adminToken: TOKEN, service: 'finetune' });
  await app.ready();
});
afterEach(async () => {
  await queue.shutdown();
  await app.close();
});

const start = (body: unknown, headers: Record<string, string> = auth) => app.inject({ method: 'POST', url: '/finetune', headers, payload: body as object });

describe('POST /finetune', () => {
  it('queues a job: 202, Location, the job as the contract says', async () => {
    const res = await start({ model: 'model1', steps: 3, publish: 'canary', canary_percent: 20 });
    expect(res.statusCode).toBe(202);
    const job = jobSchema.parse(res.json());
    expect(res.headers.location).toBe(`/jobs/${job.id}`);
    expect(job).toMatchObject({ model: 'model1', steps: 3, parent_version: 'model1_v1', retry_of: null, request: { publish: { mode: 'canary', percent: 20 }, batch_size: 4 } });
    expect(job.dataset).toEqual({ images: 2, curated_uploads: 1, base_photos: 1, undecodable: 0 });
    // One name per field: no aliases beside id and state.
    expect(Object.keys(res.json())).not.toContain('status');
    expect(Object.keys(res.json())).not.toContain('job_id');
  });

  it('refuses a bad body with a 400 naming the field, before anything is queued', async () => {
    const res = await start({ model: 'model1', steps: 3, epochs: 1 });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/steps: give steps or epochs, not both/);
    const unknown = await start({ model: 'model1', colour: 'blue' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toMatch(/colour/);
    expect(queue.list()).toHaveLength(0);
  });

  it('refuses a caller without the token (401) even when the body is bad', async () => {
    const res = await start({ steps: -1 }, {});
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect((await start({ model: 'model1' }, { authorization: 'Bearer wrong-token-wrong-token-0000' })).statusCode).toBe(401);
  });

  it('answers 404 for an unknown model and 429 when the queue is full', async () => {
    const unknown = await start({ model: 'model9' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/unknown model model9/);
    expect((await start({ model: 'model1' })).statusCode).toBe(202); // running
    expect((await start({ model: 'model1' })).statusCode).toBe(202); // waiting (maxQueued 1)
    const full = await start({ model: 'model1' });
    expect(full.statusCode).toBe(429);
    expect(full.headers['retry-after']).toBe('60');
  });
});

describe('GET /jobs and /jobs/:id', () => {
  it('lists jobs newest first and shows one', async () => {
    const a = jobSchema.parse((await start({ model: 'model1', steps: 1 })).json());
    const b = jobSchema.parse((await start({ model: 'model1', steps: 2 })).json());
    const list = await app.inject({ url: '/jobs', headers: auth });
    expect(list.statusCode).toBe(200);
    expect(jobListSchema.parse(list.json()).jobs.map((j) => j.id)).toEqual([b.id, a.id]);
    const one = await app.inject({ url: `/jobs/${a.id}`, headers: auth });
    expect(one.statusCode).toBe(200);
    expect(jobSchema.parse(one.json())).toMatchObject({ id: a.id, state: 'running' });
    runs.get(a.id)!.succeed();
    await settle();
    const done = jobSchema.parse((await app.inject({ url: `/jobs/${a.id}`, headers: auth })).json());
    expect(done).toMatchObject({ state: 'succeeded', result: { version: 'model1_v2', published: true } });
  });

  it('answers 404 for an unknown job and 401 without the token', async () => {
    const missing = await app.inject({ url: '/jobs/no-such-job', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toMatch(/no job no-such-job/);
    expect((await app.inject({ url: '/jobs' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/jobs/x' })).statusCode).toBe(401);
  });
});

describe('DELETE /jobs/:id', () => {
  it('cancels a running job; a finished one is a 409, an unknown one a 404', async () => {
    const job = jobSchema.parse((await start({ model: 'model1' })).json());
    const res = await app.inject({ method: 'DELETE', url: `/jobs/${job.id}`, headers: auth });
    expect(res.statusCode).toBe(200);
    await settle();
    expect(queue.get(job.id)!.state).toBe('cancelled');
    const again = await app.inject({ method: 'DELETE', url: `/jobs/${job.id}`, headers: auth });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/already cancelled/);
    expect((await app.inject({ method: 'DELETE', url: '/jobs/nope', headers: auth })).statusCode).toBe(404);
  });
});

describe('POST /jobs/:id/retry', () => {
  it('re-runs a failed job from the same parent version; a running one is a 409', async () => {
    const job = jobSchema.parse((await start({ model: 'model1', steps: 5, version: 'model1_v1' })).json());
    const busy = await app.inject({ method: 'POST', url: `/jobs/${job.id}/retry`, headers: auth });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().message).toMatch(/is running; only failed, cancelled, interrupted jobs are retried/);
    runs.get(job.id)!.fail('training diverged');
    await settle();
    expect(queue.get(job.id)).toMatchObject({ state: 'failed', error: 'training diverged' });
    const res = await app.inject({ method: 'POST', url: `/jobs/${job.id}/retry`, headers: auth });
    expect(res.statusCode).toBe(202);
    const retry = jobSchema.parse(res.json());
    expect(retry).toMatchObject({ retry_of: job.id, parent_version: 'model1_v1', steps: 5 });
    expect(retry.id).not.toBe(job.id);
    expect((await app.inject({ method: 'POST', url: '/jobs/nope/retry', headers: auth })).statusCode).toBe(404);
  });
});

describe('GET /ready and the OpenAPI document', () => {
  it('reports readiness with the jobs by state', async () => {
    const res = await app.inject({ url: '/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', service: 'finetune', jobs: { queued: 0, running: 0 } });
  });

  it('documents every route with its request, response and error schemas; Swagger UI at /docs', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
    };
    const api = routes.filter((r) => !r.hidden);
    expect(api.map((r) => `${r.method} ${r.url}`).sort()).toEqual(['delete /jobs/:id', 'get /jobs', 'get /jobs/:id', 'get /ready', 'post /finetune', 'post /jobs/:id/retry']);
    for (const r of api) {
      const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      const codes = Object.keys(op!.responses);
      expect(codes.some((c) => c.startsWith('2')), `${r.method} ${r.url} success`).toBe(true);
      for (const c of codes) expect(op!.responses[c]!.content?.['application/json']?.schema, `${r.method} ${r.url} ${c}`).toBeDefined();
      if (r.url !== '/ready') expect(codes, `${r.method} ${r.url} errors`).toContain('401');
      if (r.url.includes(':id')) expect(op!.parameters?.some((p) => p.in === 'path' && p.name === 'id')).toBe(true);
    }
    expect(doc.paths['/finetune']!.post!.requestBody).toBeDefined();
    const ui = await app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/html/);
  });
});

/**
 * Restarts of the fine-tuning service with in-process training (NST_TRAINING_RUNNER=local):
 * the job records on the volume bring the queue back. A job running when the process was
 * killed (SIGKILL) or stopped (SIGTERM) comes back `interrupted` with the reason, and one call
 * runs it again; a queued job is still queued and then runs. (The Kubernetes runner's restart
 * is in trainingJob.test.ts.)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { adminApi, startFinetuneProcess, waitUntil, type FinetuneProcess } from '../support/finetuneProcess.ts';

const mirror = process.env.NST_DATA_MIRROR;
const TOKEN = 'restart-test-admin-token-0123456789';
const JOB = { model: 'model1', image_size: 32, batch_size: 1, max_images: 1, heldout_images: 1, data: 'base', publish: 'none' };

describe('fine-tuning service restarts (local runner)', () => {
  let dir: string;
  let svc: FinetuneProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    dir = await mkdtemp(path.join(tmpdir(), 'nst-restart-'));
    await pullPretrained(new ModelStore(dir), { name: 'model1', style: 'wave' }, { mirror, cacheDir: path.join(dir, 'data-cache') });
    env = { NST_STORAGE_DIR: dir, NST_MODELS: 'model1=wave', NST_DATA_MIRROR: mirror, NST_ADMIN_TOKEN: TOKEN, NST_FINETUNE_THREADS: '2', NST_TRAINING_RUNNER: 'local' };
  });
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const record = async (id: string) => JSON.parse(await readFile(path.join(dir, 'finetune-jobs', `${id}.json`), 'utf8')) as Record<string, unknown>;
  const job = (api: ReturnType<typeof adminApi>, id: string) => async () => (await api('GET', `/jobs/${id}`)).body;

  it('interrupts the running job, keeps the queued one, and re-runs on request', async () => {
    svc = await startFinetuneProcess(env);
    let api = adminApi(svc.url, TOKEN);
    const long = (await api('POST', '/finetune', { ...JOB, steps: 60 })).body;
    const queued = (await api('POST', '/finetune', { ...JOB, steps: 1 })).body;
    expect(queued.state).toBe('queued');
    await waitUntil('the first job to train', async () => {
      const j = await job(api, long.id)();
      return j.state === 'running' && j.step >= 1 && j;
    });
    // Progress reaches the record while the job runs.
    await waitUntil('progress in the record', async () => ((await record(long.id)).step as number) >= 1);

    // A crash: no chance to say anything.
    await svc.stop('SIGKILL');
    expect(await record(long.id)).toMatchObject({ state: 'running', runner: 'local' });
    expect(await record(queued.id)).toMatchObject({ state: 'queued' });

    svc = await startFinetuneProcess(env);
    api = adminApi(svc.url, TOKEN);
    const interrupted = await job(api, long.id)();
    expect(interrupted).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/died while this job ran.*POST \/jobs\/:id\/retry/) });
    expect(interrupted.step).toBeGreaterThanOrEqual(1);
    expect(interrupted.loss_history.length).toBeGreaterThanOrEqual(1);
    expect(svc.logs.some((l) => /^restored 2 saved training jobs: 0 followed again, 1 interrupted, 1 were queued$/.test(l.message))).toBe(true);
    const second = await waitUntil('the queued job to run', async () => {
      const j = await job(api, queued.id)();
      return ['succeeded', 'failed'].includes(j.state) && j;
    });
    expect(second).toMatchObject({ state: 'succeeded', error: null, result: { version: 'model1_v2' } });
    expect((await api('POST', `/jobs/${queued.id}/retry`)).status).toBe(409);

    // One call runs the interrupted job again: same request, same parent.
    const retry = await api('POST', `/jobs/${long.id}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ retry_of: long.id, steps: 60, parent_version: 'model1_v1', request: { steps: 60, image_size: 32 } });
    await waitUntil('the retry to train', async () => {
      const j = await job(api, retry.body.id)();
      return j.state === 'running' && j.step >= 1 && j;
    });

    // A rollout: SIGTERM. The in-process run stops and says why; nothing is published.
    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(await record(retry.body.id)).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/stopped while this job ran/) });
    svc = await startFinetuneProcess(env);
    api = adminApi(svc.url, TOKEN);
    expect((await job(api, retry.body.id)()).state).toBe('interrupted');
    expect((await api('GET', '/jobs')).body.jobs.map((j: { id: string }) => j.id)).toEqual([retry.body.id, queued.id, long.id]);
    expect(await new ModelStore(dir).versions('model1')).toEqual([1, 2]);
  }, 400_000);
});

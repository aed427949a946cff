/**
 * The job queue's policies in-process, on the file job records in a temporary folder:
 * one run at a time in order, the waiting limit, cancel (waiting or running), failure,
 * retry bookkeeping, and what a restart makes of the saved jobs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileJobRecords } from '@nst/common';
import { jobRecordSchema } from '@nst/contracts';
import { JobQueue, QueueFullError, type Job } from '../src/jobs/jobQueue.ts';
import type { PreparedJob } from '../src/jobs/prepare.ts';
import { settle, stubPrepare, stubRunner } from './fixtures/stubJobs.ts';

type Q = JobQueue<PreparedJob>;
let dir: string;
let records: FileJobRecords<Job<PreparedJob>>;
const queues: Q[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nst-jobqueue-unit-'));
  records = new FileJobRecords(dir, (v) => jobRecordSchema.parse(v) as unknown as Job<PreparedJob>);
});
afterEach(async () => {
  for (const q of queues.splice(0)) await q.shutdown();
  await rm(dir, { recursive: true, force: true });
});

function queue(opts: { maxQueued?: number; keepFinished?: number } = {}) {
  const stub = stubRunner<PreparedJob>();
  const q: Q = new JobQueue<PreparedJob>(stub.runner, { maxQueued: opts.maxQueued ?? 8, keepFinished: opts.keepFinished ?? 10, runner: 'local', records });
  queues.push(q);
  return { q, ...stub };
}
const prepared = (steps = 10) => stubPrepare({ model: 'model1', steps, batch_size: 1, image_size: 64, learning_rate: 1e-3, style_weight: 1, content_weight: 1, tv_weight: 1, data: 'base', heldout_images: 1, seed: 1, publish: { mode: 'none' } });
/** Waits until the records say what the jobs say (saves land asynchronously). */
const saved = (jobs: Job<PreparedJob>[]) =>
  vi.waitFor(async () => {
    const byId = new Map((await records.list()).map((j) => [j.id, j.state]));
    expect(jobs.map((j) => byId.get(j.id))).toEqual(jobs.map((j) => j.state));
  });

describe('job queue policies', () => {
  it('runs one job at a time, in submission order, and refuses more than maxQueued waiting', async () => {
    const { q, runs, started } = queue({ maxQueued: 2 });
    const [a, b, c] = [q.submit('model1', await prepared(), 10), q.submit('model1', await prepared(), 10), q.submit('model1', await prepared(), 10)];
    const extra = await prepared();
    expect(() => q.submit('model1', extra, 10)).toThrow(QueueFullError);
    expect([a.state, b.state, c.state]).toEqual(['running', 'queued', 'queued']);
    runs.get(a.id)!.succeed();
    await settle();
    expect([a.state, b.state]).toEqual(['succeeded', 'running']);
    runs.get(b.id)!.fail('out of memory');
    await settle();
    expect(b).toMatchObject({ state: 'failed', error: 'out of memory', result: null });
    expect(started).toEqual([a.id, b.id, c.id]);
    expect(q.countByState()).toMatchObject({ succeeded: 1, failed: 1, running: 1, queued: 0 });
  });

  it('cancels a waiting job without running it and a running one through its signal', async () => {
    const { q, runs, started } = queue();
    const a = q.submit('model1', await prepared(), 10);
    const b = q.submit('model1', await prepared(), 10);
    expect(q.cancel(b.id)).toBe(true);
    expect(b).toMatchObject({ state: 'cancelled', phase: 'cancelled before it started' });
    expect(q.cancel(a.id)).toBe(true);
    expect(runs.get(a.id)!.signal.aborted).toBe(true);
    await settle();
    expect(a).toMatchObject({ state: 'cancelled', phase: 'cancelled while running', error: null });
    expect(q.cancel(a.id)).toBe(false);
    expect(started).toEqual([a.id]);
  });

  it('records what a retry re-runs', async () => {
    const { q } = queue();
    const a = q.submit('model1', await prepared(), 10);
    const retry = q.submit('model1', await prepared(), 10, { retry_of: a.id });
    expect(retry.retry_of).toBe(a.id);
    expect(a.retry_of).toBeNull();
  });

  it('keeps only the newest finished jobs, in memory and in the records', async () => {
    const { q, runs } = queue({ keepFinished: 1 });
    for (let i = 0; i < 3; i++) {
      const j = q.submit('model1', await prepared(), 1);
      runs.get(j.id)!.succeed();
      await settle();
    }
    expect(q.list()).toHaveLength(1);
    await vi.waitFor(async () => expect(await records.list()).toHaveLength(1));
    expect((await records.list())[0]!.id).toBe(q.list()[0]!.id);
  });
});

describe('a restart', () => {
  it('interrupts the job that ran in the old process and keeps the waiting ones in order', async () => {
    const first = queue();
    const running = first.q.submit('model1', await prepared(), 10);
    const waiting = [first.q.submit('model1', await prepared(), 10), first.q.submit('model1', await prepared(), 10)];
    await saved([running, ...waiting]);
    // The process dies: nothing more is written; a new one reads the records.
    const second = queue();
    second.q.restore(await records.list(), () => false);
    const after = (id: string) => second.q.get(id)!;
    expect(after(running.id)).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/died while this job ran.*retry/) });
    expect(after(waiting[0]!.id).state).toBe('running');
    expect(after(waiting[1]!.id).state).toBe('queued');
    expect(second.started).toEqual([waiting[0]!.id]);
  });

  it('follows again a run that lives elsewhere, before the waiting ones', async () => {
    const first = queue();
    const remote = first.q.submit('model1', await prepared(), 10);
    const next = first.q.submit('model1', await prepared(), 10);
    await saved([remote, next]);
    const second = queue();
    second.q.restore(await records.list(), (j) => j.id === remote.id);
    expect(second.started).toEqual([remote.id]);
    expect(second.runs.get(remote.id)!.resumed).toBe(true);
    expect(second.q.get(next.id)!.state).toBe('queued');
  });

  it('a stop interrupts the local run and leaves the waiting job queued in the records', async () => {
    const { q } = queue();
    const a = q.submit('model1', await prepared(), 10);
    const b = q.submit('model1', await prepared(), 10);
    await q.shutdown();
    expect(a).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/stopped while this job ran/) });
    const byId = new Map((await records.list()).map((j) => [j.id, j.state]));
    expect(byId.get(a.id)).toBe('interrupted');
    expect(byId.get(b.id)).toBe('queued');
  });
});

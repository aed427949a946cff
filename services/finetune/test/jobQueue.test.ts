/**
 * The job queue's persistence and restart rules, on the platform store's job records of both
 * backends (a temp folder; a real PostgreSQL started for this file), with runners that stand
 * for a local run (stops with the process) and a remote one (goes on).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileJobRecords, openPlatformStore, type PlatformStore } from '@nst/common';
import { startPostgres, type TestPostgres } from '../../../tests/support/postgres.ts';
import type { JobResult } from '@nst/contracts';
import { JobQueue, QueueShutdown, RunDetachedError, type Job, type JobRunner } from '../src/jobs/jobQueue.ts';

type P = { label: string };
const result: JobResult = { version: 'm_v2', published: false, reason: 'test', heldout: { parent: { style: 1, content: 1, tv: 1, total: 3 }, trained: { style: 1, content: 1, tv: 1, total: 3 } } };

/** Runs until released or aborted; on shutdown a "remote" run detaches, a local one stops. */
function controllableRunner(remote: boolean) {
  const release = new Map<string, () => void>();
  const started: Array<{ label: string; resumed: boolean }> = [];
  const runner: JobRunner<P> = (job, signal, resumed) =>
    new Promise((resolve, reject) => {
      started.push({ label: job.params.label, resumed });
      release.set(job.params.label, () => resolve(result));
      signal.addEventListener('abort', () => reject(signal.reason instanceof QueueShutdown && remote ? new RunDetachedError('detached') : new Error('stopped')), { once: true });
    });
  return { runner, release, started };
}

const until = async (fn: () => boolean) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(fn()).toBe(true);
};

const dirs: string[] = [];
const opened: PlatformStore[] = [];
let pgServer: TestPostgres;
beforeAll(async () => {
  pgServer = await startPostgres();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await pgServer?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'nst-jobq-'));
  dirs.push(d);
  return d;
};

describe.each(['file', 'postgres'] as const)('job queue across restarts: %s', (backend) => {
  const records = async () => {
    const store = await openPlatformStore({ storageDir: await tempDir(), databaseUrl: backend === 'postgres' ? await pgServer.createDatabase() : undefined });
    opened.push(store);
    expect(store.backend).toBe(backend);
    return store.jobRecords<Job<P>>((v) => v as Job<P>);
  };

  it('local: shutdown interrupts the running job, keeps the queued ones in order', async () => {
    const rec = await records();
    const a = controllableRunner(false);
    const q1 = new JobQueue<P>(a.runner, { maxQueued: 8, keepFinished: 10, runner: 'local', records: rec });
    const j1 = q1.submit('m', { label: 'one' }, 5);
    const j2 = q1.submit('m', { label: 'two' }, 5);
    const j3 = q1.submit('m', { label: 'three' }, 5);
    await q1.shutdown();
    expect((await rec.get(j1.id))!.state).toBe('interrupted');
    expect((await rec.get(j1.id))!.error).toMatch(/stopped while this job ran/);
    expect((await rec.get(j2.id))!.state).toBe('queued');

    const b = controllableRunner(false);
    const q2 = new JobQueue<P>(b.runner, { maxQueued: 8, keepFinished: 10, runner: 'local', records: rec });
    q2.restore(await rec.list(), () => false);
    expect(b.started).toEqual([{ label: 'two', resumed: false }]);
    b.release.get('two')!();
    await until(() => b.started.length === 2);
    expect(b.started[1]).toEqual({ label: 'three', resumed: false });
    expect(q2.get(j2.id)!.state).toBe('succeeded');
    expect(q2.get(j3.id)!.state).toBe('running');
    await q2.shutdown();
  });

  it('a run that died with its process is interrupted; a remote run is resumed first', async () => {
    const rec = await records();
    const a = controllableRunner(true);
    const q1 = new JobQueue<P>(a.runner, { maxQueued: 8, keepFinished: 10, runner: 'kubernetes', records: rec });
    const remote = q1.submit('m', { label: 'remote' }, 5);
    const next = q1.submit('m', { label: 'next' }, 5);
    await q1.shutdown();
    // Detached: still running for the next process.
    expect((await rec.get(remote.id))!.state).toBe('running');

    const b = controllableRunner(true);
    const q2 = new JobQueue<P>(b.runner, { maxQueued: 8, keepFinished: 10, runner: 'kubernetes', records: rec });
    q2.restore(await rec.list(), (j) => j.runner === 'kubernetes' && j.state === 'running');
    expect(b.started).toEqual([{ label: 'remote', resumed: true }]);
    b.release.get('remote')!();
    await until(() => q2.get(remote.id)!.state === 'succeeded');
    await until(() => b.started.length === 2);
    expect(q2.get(next.id)!.state).toBe('running');
    await q2.shutdown();

    // A local run found "running" in its record (the process was killed) cannot be followed.
    const killed = { ...(await rec.get(next.id))!, state: 'running' as const, runner: 'local' };
    await rec.save(killed);
    const q3 = new JobQueue<P>(controllableRunner(false).runner, { maxQueued: 8, keepFinished: 10, runner: 'local', records: rec });
    q3.restore(await rec.list(), (j) => j.runner === 'kubernetes' && j.state === 'running');
    expect(q3.get(next.id)).toMatchObject({ state: 'interrupted', error: expect.stringMatching(/died while this job ran/) });
    await q3.shutdown();
    expect((await rec.get(next.id))!.state).toBe('interrupted');
  });
});

describe('job queue on file records', () => {

  it('skips unreadable records and keeps only the newest finished ones', async () => {
    const d = await tempDir();
    const unreadable: string[] = [];
    const strict = new FileJobRecords<Job<P>>(
      d,
      (v) => {
        if (typeof (v as Job<P>).state !== 'string') throw new Error('not a job');
        return v as Job<P>;
      },
      (file) => unreadable.push(path.basename(file)),
    );
    await mkdir(strict.dir, { recursive: true });
    await writeFile(path.join(strict.dir, 'torn.json'), '{"id": "torn", "sta');
    expect(await strict.list()).toEqual([]);
    expect(unreadable).toEqual(['torn.json']);
    await rm(path.join(strict.dir, 'torn.json'));
    const runner: JobRunner<P> = async () => result;
    const q = new JobQueue<P>(runner, { maxQueued: 8, keepFinished: 2, runner: 'local', records: strict });
    const jobs = [q.submit('m', { label: 'a' }, 1), q.submit('m', { label: 'b' }, 1), q.submit('m', { label: 'c' }, 1)];
    await until(() => jobs.every((j) => j.state === 'succeeded'));
    await q.shutdown();
    expect((await strict.list()).map((j) => j.params.label).sort()).toEqual(['b', 'c']);
    expect(JSON.parse(await readFile(path.join(strict.dir, `${jobs[2]!.id}.json`), 'utf8'))).toMatchObject({ state: 'succeeded', result });
  });
});

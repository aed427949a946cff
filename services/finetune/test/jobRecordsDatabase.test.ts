/**
 * The fine-tuning service with NST_DATABASE_URL (a real PostgreSQL started for this file): its
 * job records go into the database, not into <store>/finetune-jobs/, and a restart reads them
 * back from there. One real 1-step fine-tune at 32², one queued job cancelled.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore, openPlatformStore, type PlatformStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { startPostgres, type TestPostgres } from '../../../tests/support/postgres.ts';
import { buildFinetuneApp, type FinetuneApp } from '../src/http/app.ts';
import { loadFinetuneConfig } from '../src/config.ts';

const mirror = process.env.NST_DATA_MIRROR;
const TOKEN = 'finetune-db-test-token-0123456789';
const JOB = { model: 'model1', steps: 1, image_size: 32, batch_size: 1, max_images: 1, heldout_images: 1, data: 'base', publish: 'none' };

let dir: string;
let pgServer: TestPostgres;
let databaseUrl: string;
let db: PlatformStore;

beforeAll(async () => {
  if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
  dir = await mkdtemp(path.join(tmpdir(), 'nst-finetune-db-'));
  await pullPretrained(new ModelStore(dir), { name: 'model1', style: 'wave' }, { mirror, cacheDir: path.join(dir, 'data-cache') });
  pgServer = await startPostgres();
  databaseUrl = await pgServer.createDatabase();
  db = await openPlatformStore({ storageDir: dir, databaseUrl });
});

afterAll(async () => {
  await db?.close();
  await pgServer?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<{ svc: FinetuneApp; api: (method: string, url: string, body?: unknown) => Promise<Record<string, any>> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const config = loadFinetuneConfig({ NST_STORAGE_DIR: dir, NST_MODELS: 'model1=wave', NST_DATA_MIRROR: mirror, NST_ADMIN_TOKEN: TOKEN, NST_DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', NST_FINETUNE_THREADS: '2' });
  const svc = await buildFinetuneApp(config);
  await svc.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(svc.app.server.address() as { port: number }).port}`;
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  return { svc, api };
}

describe('fine-tuning job records in PostgreSQL', () => {
  it('saves every job in the database and a restart reads them back from there', async () => {
    let { svc, api } = await start();
    try {
      const trained = await api('POST', '/finetune', JOB);
      const queued = await api('POST', '/finetune', JOB);
      expect(queued.state).toBe('queued');
      expect((await api('DELETE', `/jobs/${queued.id}`)).state).toBe('cancelled');
      const until = Date.now() + 120_000;
      while ((await api('GET', `/jobs/${trained.id}`)).state !== 'succeeded' && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      await svc.app.close(); // every record saved

      const rows = db.jobRecords((v) => v as { id: string; model: string; state: string; loss_history: unknown[] });
      expect(await rows.get(trained.id)).toMatchObject({ id: trained.id, model: 'model1', state: 'succeeded', loss_history: [expect.objectContaining({ step: 1 })] });
      expect(await rows.get(queued.id)).toMatchObject({ state: 'cancelled' });
      await expect(stat(path.join(dir, 'finetune-jobs'))).rejects.toThrow(/ENOENT/);

      ({ svc, api } = await start());
      const listed = (await api('GET', '/jobs')).jobs as { id: string; state: string }[];
      expect(listed.map((j) => [j.id, j.state])).toEqual([
        [queued.id, 'cancelled'],
        [trained.id, 'succeeded'],
      ]);
    } finally {
      await svc.app.close();
    }
  }, 180_000);
});

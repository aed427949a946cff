/**
 * One contract, both backends: the file store and the PostgreSQL store (a real cluster
 * started for this file) give the same answers for ratings, served requests, routing
 * policy, history, the release lock and training-job records; plus what only the file backend has to get right.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore, ModelStore, ReleaseOwner, feedbackEntrySchema, type FeedbackEntry, type PlatformStore } from '../src/index.ts';
import { PgStore } from '../src/store/pgStore.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from '../src/onnxInterface.ts';
import { identityModel } from './support/onnxModel.ts';
import { testCard } from './support/testCard.ts';
import { startPostgres, type TestPostgres } from '../../../tests/support/postgres.ts';

let pgServer: TestPostgres;
const dirs: string[] = [];
const opened: PlatformStore[] = [];

beforeAll(async () => {
  pgServer = await startPostgres();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
  await pgServer?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'nst-store-'));
  dirs.push(d);
  return d;
}

/** A fresh store of the backend, on a fresh folder/database, and a second handle on the same state (another replica). */
async function fresh(backend: 'file' | 'postgres'): Promise<{ a: PlatformStore; b: PlatformStore; dir: string }> {
  const dir = await tempDir();
  let a: PlatformStore;
  let b: PlatformStore;
  if (backend === 'file') {
    a = new FileStore(dir);
    b = new FileStore(dir);
  } else {
    const url = await pgServer.createDatabase();
    a = await PgStore.open(url);
    b = await PgStore.open(url); // migrating again is a no-op
  }
  opened.push(a, b);
  return { a, b, dir };
}

const rating = (o: Partial<FeedbackEntry> & { output_image_filename: string }): FeedbackEntry => ({
  feedback: 'good',
  model: 'model1',
  version: 'model1_v1',
  content_image_filename: `in_${o.output_image_filename}`,
  timestamp: '2026-03-01T10:15:00.000Z',
  received_at: '2026-03-01T10:15:01.000Z',
  request_id: 'req-1',
  client_id: 'client-a',
  ...o,
});

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const byVersion = async (s: PlatformStore, model = 'model1') => Object.fromEntries((await s.versionCounts(model)).map((c) => [c.version, c]));

async function addVersions(models: ModelStore, model: string, n: number): Promise<string[]> {
  const out: string[] = [];
  // ONNX models with the fast-style interface: the release owner checks a version before it takes traffic.
  for (let i = 0; i < n; i++) {
    const onnx = identityModel([ONNX_INPUT], [ONNX_OUTPUT], { tag: String(i) });
    const card = await models.addVersion(model, onnx, testCard(model, onnx));
    out.push(card.version);
  }
  return out;
}

describe.each(['file', 'postgres'] as const)('platform store contract: %s', (backend) => {
  it('counts ratings and requests per version, the same from every replica', async () => {
    const { a, b } = await fresh(backend);
    await a.addFeedback(rating({ output_image_filename: 'o1', feedback: 'good' }));
    await b.addFeedback(rating({ output_image_filename: 'o2', feedback: 'bad', client_id: 'client-b' }));
    await a.addFeedback(rating({ output_image_filename: 'o3', feedback: 'bad', version: 'model1_v2', received_at: '2026-03-01T11:00:00.000Z' }));
    await a.addFeedback(rating({ output_image_filename: 'o4', model: 'model2', version: 'model2_v1' }));
    await b.recordRequest({ at: '2026-03-01T09:00:00.000Z', model: 'model1', version: 'model1_v1', routing: 'live' });
    await a.recordRequest({ at: '2026-03-01T09:30:00.000Z', model: 'model1', version: 'model1_v1', routing: 'live' });
    for (const s of [a, b]) {
      const c = await byVersion(s);
      expect(Object.keys(c).sort()).toEqual(['model1_v1', 'model1_v2']);
      expect(c.model1_v1).toMatchObject({ requests: 2, good: 1, bad: 1, raters: 2, since: '2026-03-01T09:00:00.000Z' });
      expect([...c.model1_v1!.hourly]).toEqual([['2026-03-01T10:00:00.000Z', [1, 1]]]);
      expect(c.model1_v2).toMatchObject({ requests: 0, good: 0, bad: 1, raters: 1, since: '2026-03-01T11:00:00.000Z' });
      expect((await byVersion(s, 'model2')).model2_v1).toMatchObject({ good: 1, bad: 0 });
      expect(await s.versionCounts('model9')).toEqual([]);
    }
  });

  it('keeps one rating per output and client: a new one replaces the old', async () => {
    const { a, b } = await fresh(backend);
    expect(await a.addFeedback(rating({ output_image_filename: 'o1', feedback: 'bad' }))).toEqual({ replaced: false });
    expect(await b.addFeedback(rating({ output_image_filename: 'o1', feedback: 'bad', received_at: '2026-03-01T10:16:00.000Z' }))).toEqual({ replaced: true });
    expect(await a.addFeedback(rating({ output_image_filename: 'o1', feedback: 'good', comment: 'better on a second look', received_at: '2026-03-01T10:17:00.000Z' }))).toEqual({ replaced: true });
    // Another client's rating of the same output is its own.
    expect(await a.addFeedback(rating({ output_image_filename: 'o1', feedback: 'bad', client_id: 'client-b' }))).toEqual({ replaced: false });
    for (const s of [a, b]) {
      expect((await byVersion(s)).model1_v1).toMatchObject({ good: 1, bad: 1, raters: 2 });
      const lines = await all(s.feedback());
      expect(lines).toHaveLength(2);
      expect(lines.find((l) => l.client_id === 'client-a')).toMatchObject({ feedback: 'good', comment: 'better on a second look', received_at: '2026-03-01T10:17:00.000Z' });
    }
  });

  it('exports every rating in the JSON Lines shape, as it was given', async () => {
    const { a } = await fresh(backend);
    const given = Array.from({ length: 1203 }, (_, i) => rating({ output_image_filename: `o${i}`, feedback: i % 3 ? 'good' : 'bad', client_id: `c${i}` }));
    for (let i = 0; i < given.length; i += 100) await Promise.all(given.slice(i, i + 100).map((g) => a.addFeedback(g)));
    const lines = await all(a.feedback());
    expect(lines).toHaveLength(given.length);
    for (const l of lines) expect(feedbackEntrySchema.parse(JSON.parse(JSON.stringify(l)))).toEqual(l);
    expect(lines.map((l) => l.output_image_filename).sort()).toEqual(given.map((g) => g.output_image_filename).sort());
    expect(lines.find((l) => l.output_image_filename === 'o7')).toEqual(given[7]);
  });

  it('changes policy and history only under the release lock, serialised across replicas', async () => {
    const { a, b } = await fresh(backend);
    expect((await a.policy('model1')).candidate).toBeNull();
    // Read-modify-write from two replicas at once: without mutual exclusion increments get lost.
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? a : b).withReleaseLock('model1', async (w) => {
          const p = await w.policy();
          await new Promise((r) => setTimeout(r, 2));
          await w.setPolicy({ ...p, candidate: 'model1_v2', percent: p.percent + 1, updated_at: new Date().toISOString(), updated_by: `replica-${i % 2}` });
          await w.record({ at: new Date().toISOString(), model: 'model1', action: 'canary', from: 'model1_v1', to: 'model1_v2', percent: p.percent + 1, actor: `replica-${i % 2}` });
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 600)); // past any replica's policy cache
    for (const s of [a, b]) {
      expect(await s.policy('model1')).toMatchObject({ candidate: 'model1_v2', percent: 16 });
      expect((await s.history('model1')).map((h) => h.percent)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(await s.history('model2')).toEqual([]);
    }
    // A change that fails leaves nothing behind in PostgreSQL (one transaction).
    await expect(
      a.withReleaseLock('model1', async (w) => {
        await w.record({ at: new Date().toISOString(), model: 'model1', action: 'promote', from: 'a', to: 'b', actor: 'x' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    if (backend === 'postgres') expect(await a.history('model1')).toHaveLength(16);
  });

  it('runs releases through the owner: latest.txt, policy and history agree', async () => {
    const { a, b, dir } = await fresh(backend);
    const models = new ModelStore(dir);
    const [v1, v2, v3] = await addVersions(models, 'model1', 3);
    const owner1 = new ReleaseOwner(models, a);
    const owner2 = new ReleaseOwner(models, b);
    expect(await owner1.initialRelease('model1', v1!)).toMatchObject({ action: 'publish', to: v1, actor: 'import' });
    expect(await owner2.initialRelease('model1', v2!)).toBeNull(); // already has a live version
    await owner1.canary('model1', v2, 50, 'alice', 'try it');
    await expect(owner2.canary('model1', v1, 10, 'bob')).rejects.toThrow(/already the live version/);
    await expect(owner2.canary('model1', 'model1_v9', 10, 'bob')).rejects.toThrow(/no version/);
    await Promise.all([owner1.promote('model1', 'alice', 'good ratings'), owner2.publish('model1', v3!, 'finetune job j1', 'quality gate passed')]);
    const history = await a.history('model1');
    expect(history.map((h) => h.action)).toEqual(['publish', 'canary', expect.any(String), expect.any(String)]);
    expect(new Set(history.slice(2).map((h) => h.action))).toEqual(new Set(['promote', 'publish']));
    // latest.txt names the version of whichever change came last.
    expect(await models.latest('model1')).toBe(history[3]!.to);
    expect(history.map((h) => h.at)).toEqual([...history.map((h) => h.at)].sort());
    expect((await b.policy('model1')).candidate).toBeNull();
    await owner1.rollback('model1', v1, 'carol', 'back to the original');
    expect(await models.latest('model1')).toBe(v1);
    expect((await b.history('model1')).at(-1)).toMatchObject({ action: 'rollback', to: v1, actor: 'carol', reason: 'back to the original' });
  });

  it('keeps training-job records as saved, one per id, seen by every replica', async () => {
    const { a, b } = await fresh(backend);
    type Rec = { id: string; model: string; state: string; step: number; params: { files: string[] } };
    const parse = (v: unknown) => {
      if (typeof (v as Rec).step !== 'number') throw new Error('not a job');
      return v as Rec;
    };
    const unreadable: string[] = [];
    const ra = a.jobRecords(parse, (where) => unreadable.push(where));
    const rb = b.jobRecords(parse);
    const j1: Rec = { id: '4f1c7d2e-0b7a-4c55-9a0e-1d2f3a4b5c6d', model: 'model1', state: 'queued', step: 0, params: { files: ['a.jpg', 'ü.png'] } };
    const j2: Rec = { id: 'job-2', model: 'model2', state: 'running', step: 3, params: { files: [] } };
    expect(await rb.list()).toEqual([]);
    expect(await rb.get(j1.id)).toBeNull();
    await ra.save(j1);
    await ra.save(j2);
    expect(await rb.get(j1.id)).toEqual(j1);
    expect((await rb.list()).sort((x, y) => x.id.localeCompare(y.id))).toEqual([j1, j2]);
    // A save replaces the record whole.
    const done = { id: j1.id, model: 'model1', state: 'succeeded', step: 5, params: { files: ['a.jpg'] } };
    await rb.save(done);
    expect(await ra.get(j1.id)).toEqual(done);
    expect(await ra.list()).toHaveLength(2);
    await ra.remove(j2.id);
    await ra.remove('no-such-job');
    expect(await rb.list()).toEqual([done]);
    expect(await rb.get(j2.id)).toBeNull();
    // A record the caller's parse refuses is skipped and reported, not returned.
    await ra.save({ id: 'foreign', model: 'model1', state: 'queued' } as Rec);
    expect(await ra.list()).toEqual([done]);
    expect(await ra.get('foreign')).toBeNull();
    expect(unreadable).toHaveLength(2);
    expect(unreadable[0]).toMatch(/foreign/);
    // Ids that could name another file or key are refused.
    for (const id of ['../escape', 'a/b', '', '.hidden', 'x'.repeat(200)]) {
      await expect(ra.save({ ...done, id })).rejects.toThrow(/unusable job id/);
      await expect(ra.remove(id)).rejects.toThrow(/unusable job id/);
      expect(await ra.get(id)).toBeNull();
    }
    expect(await rb.list()).toEqual([done]);
  });

  it('reports its health', async () => {
    const { a } = await fresh(backend);
    expect(await a.health()).toMatchObject({ ok: true, backend });
    const broken = backend === 'file' ? new FileStore('/nonexistent/nst-store') : new PgStore(`postgresql://nst@127.0.0.1:${pgServer.port + 1}/none`);
    opened.push(broken);
    expect(await broken.health()).toMatchObject({ ok: false, backend });
  });
});

describe('postgres backend start-up', () => {
  it('migrates once when several replicas start together', async () => {
    const url = await pgServer.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PgStore.open(url)));
    opened.push(...stores);
    for (const st of stores) expect(await st.health()).toMatchObject({ ok: true });
  });
});

describe('file backend job records', () => {
  it('keeps one <id>.json per job under finetune-jobs/ and skips a torn one', async () => {
    const dir = await tempDir();
    const unreadable: string[] = [];
    const records = new FileStore(dir).jobRecords((v) => v as { id: string; model: string; state: string }, (where) => unreadable.push(where));
    await records.save({ id: 'j1', model: 'model1', state: 'queued' });
    expect(JSON.parse(await readFile(path.join(dir, 'finetune-jobs', 'j1.json'), 'utf8'))).toEqual({ id: 'j1', model: 'model1', state: 'queued' });
    await writeFile(path.join(dir, 'finetune-jobs', 'torn.json'), '{"id": "torn", "sta');
    expect(await records.list()).toEqual([{ id: 'j1', model: 'model1', state: 'queued' }]);
    expect(unreadable).toEqual([path.join(dir, 'finetune-jobs', 'torn.json')]);
  });
});

describe('file backend writes', () => {
  const run = promisify(execFile);
  const helper = fileURLToPath(new URL('./support/appendUnderLimit.ts', import.meta.url));

  it('cuts off a torn last line before the next rating goes in', async () => {
    const dir = await tempDir();
    const store = new FileStore(dir);
    await store.addFeedback(rating({ output_image_filename: 'o1' }));
    await writeFile(path.join(dir, 'feedback.jsonl'), `${(await readFile(path.join(dir, 'feedback.jsonl'), 'utf8'))}{"feedback":"bad","model":"mo`);
    await new FileStore(dir).addFeedback(rating({ output_image_filename: 'o2' }));
    const text = await readFile(path.join(dir, 'feedback.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().split('\n').map((l) => (JSON.parse(l) as FeedbackEntry).output_image_filename)).toEqual(['o1', 'o2']);
  });

  it('fails a rating that does not fit on the disk with 507, leaving no partial line, and says so in its health', async () => {
    const dir = await tempDir();
    // A real short write: the child may write at most 2000 bytes to any file (RLIMIT_FSIZE).
    const { stdout } = await run('prlimit', ['--fsize=2000', process.execPath, '--import', 'tsx', helper, dir], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { accepted: number; errors: { status: number; message: string }[]; health: { ok: boolean; detail?: string } };
    expect(report.accepted).toBeGreaterThanOrEqual(3);
    expect(report.errors.length).toBeGreaterThan(0);
    expect(report.errors[0]!.status).toBe(507);
    expect(report.errors[0]!.message).toMatch(/reached feedback\.jsonl|could not append/);
    expect(report.health).toMatchObject({ ok: false });
    const text = await readFile(path.join(dir, 'feedback.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(report.accepted);
    for (const l of lines) feedbackEntrySchema.parse(JSON.parse(l));
  });
});

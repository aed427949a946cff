/**
 * Replicas on one store: three gateway processes on one PostgreSQL database (a real cluster
 * started here), and the same checks on the file backend with one gateway. Sticky canary
 * assignment agrees across replicas, an admin change made through one is seen by all within
 * a second, every rating is counted once and exported once, and a promote racing a fine-tune
 * publish leaves both in the history, in order, with latest.txt naming the later one.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelStatsSchema } from '@nst/contracts';
import { FileStore, ReleaseOwner, dataFolder, feedbackEntrySchema, type PlatformStore } from '@nst/common';
import { loadCheckpoint } from '@nst/network';
import { PgStore } from '@nst/common/store/pgStore';
import { publishVersion } from '../../services/finetune/src/jobs/publish.ts';
import { getJson, postJson, stylize } from '../support/http.ts';
import { publishVersionFromStyle } from '../support/models.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { contentPhoto, dataMirror, startTestStack, type TestStack } from '../support/stack.ts';
import { readFile } from 'node:fs/promises';

const CLIENTS = 40;
const RATINGS = 300;

/** Runs `fn` over the items with at most `n` at once. */
async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

describe.each([
  { backend: 'postgres', gateways: 3 },
  { backend: 'file', gateways: 1 },
] as const)('replicas on one $backend store', ({ backend, gateways }) => {
  let pgServer: TestPostgres | undefined;
  let databaseUrl: string | undefined;
  let s: TestStack;
  let direct: PlatformStore;
  let photo: Buffer;
  let v2: string;
  const admin = () => ({ authorization: `Bearer ${s.adminToken}`, 'x-actor': 'test-operator' });
  const outputs: { client: string; content: string; output: string; version: string }[] = [];

  beforeAll(async () => {
    if (backend === 'postgres') {
      pgServer = await startPostgres();
      databaseUrl = await pgServer.createDatabase();
    }
    s = await startTestStack({ models: ['model1=wave'], gateways, env: { ...(databaseUrl ? { NST_DATABASE_URL: databaseUrl } : {}), NST_RATE_LIMIT_STYLIZE: '0', NST_RATE_LIMIT_FEEDBACK: '0' } });
    direct = databaseUrl ? await PgStore.open(databaseUrl) : new FileStore(s.storageDir);
    photo = await readFile(await contentPhoto(3));
    v2 = await publishVersionFromStyle(s.store, 'model1', 'la_muse');
  });
  afterAll(async () => {
    await direct?.close();
    await s?.stop();
    await pgServer?.stop();
  });

  const shot = async (gateway: string, client: string) => {
    const r = await stylize(gateway, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': client });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    outputs.push({ client, content: r.body.content_image_filename as string, output: r.body.output_image_filename as string, version: r.body.version as string });
    return r.body.version as string;
  };

  it('shows an admin change made through one replica on every replica within a second', async () => {
    const started = Date.now();
    const r = await postJson(`${s.gatewayUrls[0]}/api/admin/models/model1/canary`, { version: v2, percent: 50, reason: 'replica test' }, admin());
    expect(r.status).toBe(200);
    for (const g of s.gatewayUrls) {
      for (;;) {
        const models = await getJson(`${g}/api/models`);
        if ((models.body.models as { canary: { version: string } | null }[])[0]!.canary?.version === v2) break;
        expect(Date.now() - started).toBeLessThan(1_000);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  });

  it('gives each client the same version from every replica (50% canary)', async () => {
    const clients = Array.from({ length: CLIENTS }, (_, i) => `sticky-${i}`);
    const seen = await pool(clients, 4, async (client) => Promise.all(s.gatewayUrls.map((g) => shot(g, client))));
    for (const versions of seen) expect(new Set(versions).size).toBe(1);
    const onCanary = seen.filter((v) => v[0] === v2).length;
    expect(onCanary).toBeGreaterThan(CLIENTS * 0.2);
    expect(onCanary).toBeLessThan(CLIENTS * 0.8);
  });

  it(`counts ${RATINGS} ratings posted across the replicas exactly once, and exports them`, async () => {
    // One output per rating, each rated by the client that made it.
    const more = RATINGS - outputs.length;
    await pool(
      Array.from({ length: more }, (_, i) => i),
      4,
      (i) => shot(s.gatewayUrls[i % s.gatewayUrls.length]!, `rater-${i}`),
    );
    expect(outputs).toHaveLength(RATINGS);
    const answers = await pool(outputs, 30, (o, i) =>
      postJson(
        `${s.gatewayUrls[i % s.gatewayUrls.length]}/api/feedback`,
        { feedback: i % 4 === 0 ? 'bad' : 'good', model: 'model1', content_image_filename: o.content, output_image_filename: o.output, timestamp: new Date().toISOString() },
        { 'x-client-id': o.client },
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(outputs.map(() => 201));

    const exported: unknown[] = [];
    for await (const e of direct.feedback()) exported.push(e);
    expect(exported).toHaveLength(RATINGS);
    const res = await fetch(`${s.gatewayUrls.at(-1)}/api/admin/feedback/export`, { headers: admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trimEnd().split('\n');
    expect(lines).toHaveLength(RATINGS);
    const parsed = lines.map((l) => feedbackEntrySchema.parse(JSON.parse(l)));
    expect(new Set(parsed.map((p) => p.output_image_filename)).size).toBe(RATINGS);
    if (backend === 'file') expect((await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trimEnd().split('\n')).toHaveLength(RATINGS);

    // Every replica's statistics agree with what was posted.
    const expected = new Map<string, number>();
    outputs.forEach((o) => expected.set(o.version, (expected.get(o.version) ?? 0) + 1));
    for (const g of s.gatewayUrls) {
      const stats = modelStatsSchema.parse((await getJson(`${g}/api/models/model1/stats`)).body);
      for (const v of stats.versions) expect(v.rated).toBe(expected.get(v.version) ?? 0);
      expect(stats.versions.reduce((n, v) => n + v.requests, 0)).toBe(RATINGS);
    }

    // A second rating of an output by its client replaces the first.
    const o = outputs[0]!;
    const again = await postJson(
      `${s.gatewayUrls.at(-1)}/api/feedback`,
      { feedback: 'bad', model: 'model1', content_image_filename: o.content, output_image_filename: o.output, timestamp: new Date().toISOString() },
      { 'x-client-id': o.client },
    );
    expect(again.body.status).toBe('replaced');
    const after: { output_image_filename: string; feedback: string }[] = [];
    for await (const e of direct.feedback()) after.push(e);
    expect(after).toHaveLength(RATINGS);
    expect(after.find((e) => e.output_image_filename === o.output)!.feedback).toBe('bad');
  });

  it('serialises a promote through replica 1 with a fine-tune publishing: both in the history, in order', async () => {
    const mirror = dataMirror();
    const root = await dataFolder('models/fast-style/udnie/', { mirror, cacheDir: path.join(s.storageDir, 'data-cache') });
    const weights = await loadCheckpoint(path.join(root, 'models/fast-style/udnie'));
    const better = { parent: { total: 10, style: 6, content: 3, tv: 1 }, trained: { total: 9, style: 5, content: 3, tv: 1 } };
    const before = ((await getJson(`${s.gatewayUrl}/api/models/model1/history`)).body.history as unknown[]).length;
    const [promoted, published] = await Promise.all([
      postJson(`${s.gatewayUrls[0]}/api/admin/models/model1/promote`, { reason: 'race test' }, admin()),
      publishVersion({
        store: s.store,
        model: 'model1',
        parentVersion: 'model1_v1',
        weights,
        heldout: better,
        publish: { mode: 'latest' },
        training: { steps: 0 },
        jobId: 'race-job',
        release: new ReleaseOwner(s.store, direct),
      }),
    ]);
    expect(promoted.status).toBe(200);
    expect(published.published).toBe(true);
    const history = (await getJson(`${s.gatewayUrls.at(-1)}/api/models/model1/history`)).body.history as { at: string; action: string; to: string; actor: string }[];
    const latest = history.slice(before);
    expect(latest.map((h) => h.action).sort()).toEqual(['promote', 'publish']);
    expect(latest.find((h) => h.action === 'publish')).toMatchObject({ to: published.version, actor: 'finetune job race-job' });
    expect(latest.find((h) => h.action === 'promote')).toMatchObject({ to: v2, actor: 'test-operator' });
    expect(latest[0]!.at <= latest[1]!.at).toBe(true);
    expect(await s.store.latest('model1')).toBe(latest[1]!.to);
    for (const g of s.gatewayUrls) expect(((await getJson(`${g}/api/models`)).body.models as { live_version: string }[])[0]!.live_version).toBe(latest[1]!.to);
  });

  it('reports the store in /ready and /metrics: a replica that cannot reach its database is not ready', async () => {
    for (const g of s.gatewayUrls) expect((await getJson(`${g}/ready`)).body.store).toMatchObject({ ok: true, backend });
    expect(await (await fetch(`${s.gatewayUrl}/metrics`)).text()).toMatch(new RegExp(`nst_store_up\\{backend="${backend}"[^}]*\\} 1`));
    if (!pgServer) return;
    await pgServer.stop();
    for (const g of s.gatewayUrls) {
      const ready = await getJson(`${g}/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'unavailable', store: { ok: false, backend: 'postgres' } });
    }
  });
});

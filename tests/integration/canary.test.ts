/**
 * Canary routing and the version decisions: sticky split by client, pinned versions,
 * per-version stats, admin canary/promote/rollback with history, and the automatic rule.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackEntrySchema } from '@nst/contracts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, postJson, stylize } from '../support/http.ts';
import { publishVersionFromStyle } from '../support/models.ts';

let s: TestStack;
let photo: Buffer;
let v2: string;
const admin = () => ({ authorization: `Bearer ${s.adminToken}`, 'x-actor': 'test-operator' });

beforeAll(async () => {
  s = await startTestStack({ models: ['model1=wave'], env: { NST_AUTO_DECIDE: 'true', NST_AUTO_MIN_RATED: '3', NST_AUTO_MARGIN: '0.05', NST_LOOP_MIN_CLIENTS: '1' } });
  photo = await readFile(await contentPhoto(10));
  v2 = await publishVersionFromStyle(s.store, 'model1', 'la_muse');
});
afterAll(async () => s?.stop());

const shot = async (client: string, headers: Record<string, string> = {}) => ({ ...(await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': client, ...headers })), client });
const rate = (r: Awaited<ReturnType<typeof shot>>, feedback: 'good' | 'bad') =>
  postJson(`${s.gatewayUrl}/api/feedback`, { feedback, model: 'model1', content_image_filename: r.body.content_image_filename, output_image_filename: r.body.output_image_filename, timestamp: new Date().toISOString() }, { 'x-client-id': r.client });
const waitFor = async (check: () => Promise<boolean>) => {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('canary routing', () => {
  it('needs the admin token', async () => {
    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v2, percent: 50 })).status).toBe(401);
    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v2, percent: 50 }, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: 'model1_v9', percent: 50 }, admin())).status).toBe(404);
    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v2, percent: 150 }, admin())).status).toBe(400);
  });

  it('splits traffic sticky per client, and a pinned version wins', async () => {
    const r = await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v2, percent: 50, reason: 'try la_muse weights' }, admin());
    expect(r.status).toBe(200);
    const models = await getJson(`${s.gatewayUrl}/api/models`);
    expect((models.body.models as { canary: unknown }[])[0]!.canary).toEqual({ version: v2, percent: 50 });

    const seen = new Map<string, string>();
    for (let i = 0; i < 24; i++) {
      const res = await shot(`client-${i}`);
      expect(res.status).toBe(200);
      expect(res.body.routing).toBe(res.body.version === v2 ? 'canary' : 'live');
      seen.set(`client-${i}`, res.body.version as string);
    }
    const counts = [...seen.values()].reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>());
    expect(counts.get('model1_v1')).toBeGreaterThan(3);
    expect(counts.get(v2)).toBeGreaterThan(3);
    for (const client of ['client-1', 'client-2', 'client-3']) expect((await shot(client)).body.version).toBe(seen.get(client));

    // Without a header the gateway issues a cookie, and the cookie keeps the assignment.
    const form = () => {
      const f = new FormData();
      f.set('model', 'model1');
      f.set('max_size', '32');
      f.set('image', new Blob([new Uint8Array(photo)]), 'p.jpg');
      return f;
    };
    const first = await fetch(`${s.gatewayUrl}/api/stylize`, { method: 'POST', body: form() });
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^nst_client=/);
    const version = ((await first.json()) as { version: string }).version;
    for (let i = 0; i < 3; i++) {
      const again = await fetch(`${s.gatewayUrl}/api/stylize`, { method: 'POST', body: form(), headers: { cookie } });
      expect(((await again.json()) as { version: string }).version).toBe(version);
    }

    const pinned = await shot('client-1', { 'x-model-version': 'model1_v1' });
    expect([pinned.body.version, pinned.body.routing]).toEqual(['model1_v1', 'pinned']);
    expect((await shot('client-1', { 'x-model-version': 'model1_v7' })).status).toBe(404);
  });

  it('counts requests and ratings per version; the rule rolls back a worse candidate', async () => {
    // A rating counts once per output and client: each rating here is of its own output.
    const onV1 = [];
    const onV2 = [];
    for (let i = 0; i < 3; i++) {
      onV1.push(await shot(`pin-${i}`, { 'x-model-version': 'model1_v1' }));
      onV2.push(await shot(`pin-${i}`, { 'x-model-version': v2 }));
    }
    for (let i = 0; i < 2; i++) {
      expect((await rate(onV1[i]!, 'good')).status).toBe(201);
      expect((await rate(onV2[i]!, 'bad')).status).toBe(201);
    }
    // Rating the same output again replaces the earlier rating.
    expect((await rate(onV1[0]!, 'good')).status).toBe(201);
    const stats = await getJson(`${s.gatewayUrl}/api/models/model1/stats`);
    const byVersion = Object.fromEntries((stats.body.versions as { version: string }[]).map((v) => [v.version, v])) as unknown as Record<string, { requests: number; good: number; bad: number; bad_rate: number; bad_rate_ci95: number[]; parent: string | null }>;
    expect(byVersion.model1_v1).toMatchObject({ good: 2, bad: 0, bad_rate: 0 });
    expect(byVersion[v2]).toMatchObject({ good: 0, bad: 2, bad_rate: 1, parent: 'model1_v1' });
    expect(byVersion.model1_v1!.requests).toBeGreaterThan(3);
    expect(byVersion[v2]!.bad_rate_ci95[0]).toBeGreaterThan(0.3);
    expect(stats.body.canary).toMatchObject({ version: v2, percent: 50 });

    // The third rating of each gives both versions the minimum: the rule acts.
    await rate(onV1[2]!, 'good');
    await rate(onV2[2]!, 'bad');
    await waitFor(async () => (await getJson(`${s.gatewayUrl}/api/models/model1/stats`)).body.canary === null);
    expect(await s.store.latest('model1')).toBe('model1_v1');
    const history = (await getJson(`${s.gatewayUrl}/api/models/model1/history`)).body.history as { action: string; actor: string; reason?: string }[];
    expect(history.map((h) => [h.action, h.actor])).toEqual([
      ['publish', 'import'],
      ['canary', 'test-operator'],
      ['rollback', 'auto-rule'],
    ]);
    expect(history[2]!.reason).toMatch(/worse/);
  });

  it('promotes a candidate that is not worse, and an operator can roll back', async () => {
    const v3 = await publishVersionFromStyle(s.store, 'model1', 'udnie');
    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v3, percent: 100 }, admin())).status).toBe(200);
    const outs = [];
    for (let i = 0; i < 3; i++) outs.push(await shot(`promo-${i}`));
    expect(outs.every((o) => o.body.version === v3)).toBe(true);
    for (const o of outs) await rate(o, 'good');
    await waitFor(async () => (await s.store.latest('model1')) === v3);
    await waitFor(async () => (await getJson(`${s.gatewayUrl}/api/models/model1/stats`)).body.canary === null);
    // Every inference request now goes to v3 without naming it.
    await waitFor(async () => (await shot('anyone')).body.version === v3);

    expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/promote`, {}, admin())).status).toBe(409);
    const back = await postJson(`${s.gatewayUrl}/api/admin/models/model1/rollback`, { version: 'model1_v1', reason: 'operator prefers v1' }, admin());
    expect(back.status).toBe(200);
    expect(await s.store.latest('model1')).toBe('model1_v1');
    const history = (await getJson(`${s.gatewayUrl}/api/models/model1/history`)).body.history as { action: string; actor: string; from: string; to: string }[];
    expect(history.slice(-3).map((h) => [h.action, h.actor, h.to])).toEqual([
      ['canary', 'test-operator', v3],
      ['promote', 'auto-rule', v3],
      ['rollback', 'test-operator', 'model1_v1'],
    ]);
    const feedback = (await readFile(path.join(s.storageDir, 'feedback.jsonl'), 'utf8')).trim().split('\n').map((l) => feedbackEntrySchema.parse(JSON.parse(l)));
    expect(new Set(feedback.map((f) => f.version))).toEqual(new Set(['model1_v1', v2, v3]));
  });
});

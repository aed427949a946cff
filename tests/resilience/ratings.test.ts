/**
 * Nobody steers the ML loop alone: a rating counts only from the client that made the
 * output, ratings and stylises are rate-limited (429 + Retry-After), the feedback gate
 * needs bad ratings from several distinct clients, and only served versions can be
 * pinned without the admin token.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/stack.ts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { postJson, stylize } from '../support/http.ts';
import { publishVersionFromStyle } from '../support/models.ts';

let s: TestStack;
let photo: Buffer;
beforeAll(async () => {
  s = await startTestStack({
    models: ['model1=wave'],
    env: {
      NST_AUTO_FINETUNE: 'true',
      NST_FEEDBACK_GATE_THRESHOLD: '2',
      NST_LOOP_MIN_CLIENTS: '3',
      // Nothing listens there: a triggered gate shows up as a failed attempt in the log.
      NST_FINETUNE_URL: `http://127.0.0.1:${await freePort()}`,
      NST_RATE_LIMIT_FEEDBACK: '8',
      NST_RATE_LIMIT_STYLIZE: '12',
      NST_RATE_LIMIT_CLIENTS_PER_IP: '100',
    },
  });
  photo = await readFile(await contentPhoto(2));
});
afterAll(async () => s?.stop());

const shot = async (client: string, headers: Record<string, string> = {}) => {
  const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': client, ...headers });
  return { ...r, client };
};
const rate = (r: Awaited<ReturnType<typeof shot>>, feedback: 'good' | 'bad', client: string | null = r.client) =>
  postJson(
    `${s.gatewayUrl}/api/feedback`,
    { feedback, model: 'model1', content_image_filename: r.body.content_image_filename, output_image_filename: r.body.output_image_filename, timestamp: new Date().toISOString() },
    client ? { 'x-client-id': client } : {},
  );
const gateAttempts = () => s.logs.filter((l) => l.service === 'gateway' && /feedback gate|loop automation failed/.test(l.line)).length;

describe('ratings', () => {
  it('are accepted only from the client that produced the output', async () => {
    const mine = await shot('alice');
    expect(mine.status).toBe(200);
    const stranger = await rate(mine, 'bad', 'mallory');
    expect(stranger.status).toBe(403);
    expect(stranger.body.message).toMatch(/not made by this client/);
    const anonymous = await rate(mine, 'bad', null);
    expect(anonymous.status).toBe(403);
    expect((await rate(mine, 'good')).status).toBe(201);
  });

  it('from one client never trip the feedback gate; from enough distinct clients they do', async () => {
    const out = await shot('attacker');
    for (let i = 0; i < 6; i++) expect((await rate(out, 'bad')).status).toBe(201);
    expect((await rate(await shot('attacker'), 'bad')).status).toBe(201);
    await new Promise((r) => setTimeout(r, 500));
    expect(gateAttempts()).toBe(0);

    for (const client of ['bob', 'carol']) expect((await rate(await shot(client), 'bad')).status).toBe(201);
    const deadline = Date.now() + 10_000;
    while (gateAttempts() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(gateAttempts()).toBeGreaterThan(0);
  });

  it('are rate-limited per client with 429 and Retry-After', async () => {
    const out = await shot('flooder');
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await rate(out, 'bad'));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited[0]!.body.message).toMatch(/this client: at most 8 a minute/);
    // Another client is not affected.
    expect((await rate(await shot('patient'), 'good')).status).toBe(201);
  });

  it('stylise requests are rate-limited too', async () => {
    const statuses = [];
    for (let i = 0; i < 14; i++) statuses.push((await shot('greedy')).status);
    expect(statuses.slice(0, 12).every((st) => st === 200)).toBe(true);
    expect(statuses.slice(12)).toEqual([429, 429]);
  });
});

describe('version pinning', () => {
  it('allows only served versions without the admin token', async () => {
    const v2 = await publishVersionFromStyle(s.store, 'model1', 'la_muse');
    const refused = await shot('pinner', { 'x-model-version': v2 });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/not being served/);
    expect((await shot('pinner', { 'x-model-version': 'model1_v1' })).body.routing).toBe('pinned');
    const asAdmin = await shot('operator', { 'x-model-version': v2, authorization: `Bearer ${s.adminToken}` });
    expect([asAdmin.status, asAdmin.body.version]).toEqual([200, v2]);

    const canary = await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: v2, percent: 10 }, { authorization: `Bearer ${s.adminToken}` });
    expect(canary.status).toBe(200);
    expect((await shot('pinner2', { 'x-model-version': v2 })).body.version).toBe(v2);
  });
});

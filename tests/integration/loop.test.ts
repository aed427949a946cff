/**
 * The ML loop end to end on the local stack: bad ratings trip the feedback gate, the
 * gateway starts a real fine-tune published as a canary, the canary takes traffic, its
 * ratings make the automatic rule promote it, and every step is in the history.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobListSchema, jobSchema, modelCardSchema } from '@nst/contracts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, postJson, stylize } from '../support/http.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({
    models: ['model1=wave'],
    withFinetune: true,
    env: {
      NST_RELOAD_INTERVAL_MS: '200',
      NST_AUTO_FINETUNE: 'true',
      NST_FEEDBACK_GATE_THRESHOLD: '2',
      NST_AUTO_CANARY_PERCENT: '100',
      NST_AUTO_FINETUNE_PARAMS: JSON.stringify({ steps: 4, image_size: 64, batch_size: 4, max_images: 3, heldout_images: 2, learning_rate: 2e-3 }),
      NST_AUTO_DECIDE: 'true',
      NST_AUTO_MIN_RATED: '2',
      NST_LOOP_MIN_CLIENTS: '2',
    },
  });
});
afterAll(async () => s?.stop());

const admin = () => ({ authorization: `Bearer ${s.adminToken}` });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('feedback-driven retraining loop', () => {
  it('bad ratings → fine-tune → canary → ratings → promotion', async () => {
    const photo = await readFile(await contentPhoto(11));
    const shoot = async (client: string) => {
      const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '64' }, { 'x-client-id': client });
      expect(r.status).toBe(200);
      return { ...r, client };
    };
    const rate = (r: Awaited<ReturnType<typeof shoot>>, feedback: 'good' | 'bad') =>
      postJson(`${s.gatewayUrl}/api/feedback`, { feedback, model: 'model1', content_image_filename: r.body.content_image_filename, output_image_filename: r.body.output_image_filename, timestamp: new Date().toISOString() }, { 'x-client-id': r.client });

    // 1. Three bad ratings of v1: over the threshold of 2.
    for (let i = 0; i < 3; i++) expect((await rate(await shoot(`user-${i}`), 'bad')).status).toBe(201);

    // 2. The gate started a fine-tune; it runs to the end and publishes a canary.
    const job = await until('the gate to start a fine-tune', async () => {
      const { jobs } = jobListSchema.parse((await getJson(`${s.gatewayUrl}/api/admin/jobs`, admin())).body);
      return jobs.find((j) => j.model === 'model1');
    });
    const done = await until('the fine-tune to finish', async () => {
      const j = jobSchema.parse((await getJson(`${s.gatewayUrl}/api/admin/jobs/${job.id}`, admin())).body);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
    });
    expect(done.state, JSON.stringify(done)).toBe('succeeded');
    expect(done.result).toMatchObject({ version: 'model1_v2', published: true });
    expect(await s.store.latest('model1')).toBe('model1_v1');
    const stats = await getJson(`${s.gatewayUrl}/api/models/model1/stats`);
    expect(stats.body.canary).toMatchObject({ version: 'model1_v2', percent: 100 });

    // 3. The canary serves the traffic (the inference service loads it on demand).
    const onCanary = [await shoot('user-a'), await shoot('user-b')];
    expect(onCanary.map((r) => [r.body.version, r.body.routing])).toEqual([
      ['model1_v2', 'canary'],
      ['model1_v2', 'canary'],
    ]);

    // 4. Two good ratings of the candidate: the rule compares and promotes it.
    for (const r of onCanary) expect((await rate(r, 'good')).body.version).toBe('model1_v2');
    await until('promotion', async () => ((await s.store.latest('model1')) === 'model1_v2' ? true : undefined), 15_000);
    await until('the inference service to follow', async () => ((await shoot('user-z')).body.routing === 'live' ? true : undefined), 15_000);

    const history = (await getJson(`${s.gatewayUrl}/api/models/model1/history`)).body.history as { action: string; actor: string; to: string }[];
    expect(history.map((h) => [h.action, h.to])).toEqual([
      ['publish', 'model1_v1'],
      ['canary', 'model1_v2'],
      ['promote', 'model1_v2'],
    ]);
    expect(history[0]!.actor).toBe('import');
    expect(history[1]!.actor).toMatch(/^finetune job /);
    expect(history[2]!.actor).toBe('auto-rule');
    const card = modelCardSchema.parse((await getJson(`${s.gatewayUrl}/api/models/model1/versions/model1_v2`)).body);
    expect(card.parent).toBe('model1_v1');
  });
});

/**
 * The improvement loop end to end on the local stack: a user rates an output bad, an
 * operator starts a short real fine-tune, the new version passes the quality gate, goes
 * live without a restart, the gateway lists it and a stylise request is answered by it.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, postJson, stylize } from '../support/http.ts';

describe('fine-tuning on the local stack', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ models: ['model1=wave'], withFinetune: true, env: { NST_RELOAD_INTERVAL_MS: '200' } });
  });
  afterAll(async () => s?.stop());

  it('trains on rated uploads and base photos, publishes, and serves the new version', async () => {
    const admin = { authorization: `Bearer ${s.adminToken}` };
    // A user stylises a photo and rates the result bad: that upload joins the curated set.
    const photo = await readFile(await contentPhoto(3, 'train'));
    const first = await stylize(s.gatewayUrl, { image: photo, filename: 'mine.jpg', model: 'model1', max_size: '96' }, { 'x-client-id': 'finetune-user' });
    expect(first.status).toBe(200);
    expect(first.body.version).toBe('model1_v1');
    const rated = await postJson(`${s.gatewayUrl}/api/feedback`, {
      model: 'model1',
      content_image_filename: first.body.content_image_filename,
      output_image_filename: first.body.output_image_filename,
      feedback: 'bad',
      timestamp: new Date().toISOString(),
      comment: 'the sky is smeared',
    }, { 'x-client-id': 'finetune-user' });
    expect(rated.status).toBeLessThan(300);

    expect((await postJson(`${s.finetuneUrl}/finetune`, { model: 'model1' })).status).toBe(401);
    const job = await postJson(
      `${s.finetuneUrl}/finetune`,
      { model: 'model1', steps: 4, image_size: 64, batch_size: 4, max_images: 3, heldout_images: 2, learning_rate: 2e-3, publish: 'latest' },
      admin,
    );
    expect(job.status).toBe(202);
    expect(job.body.dataset).toMatchObject({ curated_uploads: 1, base_photos: 3 });
    const id = job.body.id as string;
    let state: Record<string, unknown> = job.body;
    const deadline = Date.now() + 120_000;
    while (!['succeeded', 'failed', 'cancelled'].includes(state.state as string) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      state = (await getJson(`${s.finetuneUrl}/jobs/${id}`, admin)).body;
    }
    expect(state.error).toBeNull();
    expect(state.state).toBe('succeeded');
    const history = state.loss_history as { total: number }[];
    expect(history.at(-1)!.total).toBeLessThan(history[0]!.total);
    const result = state.result as { version: string; published: boolean; reason: string };
    expect(result).toMatchObject({ version: 'model1_v2', published: true, reason: expect.stringMatching(/quality gate passed/) });
    expect((await s.store.card('model1', 'model1_v2')).parent).toBe('model1_v1');

    const heldout = (state.result as { heldout: { parent: { total: number }; trained: { total: number } } }).heldout;
    expect(heldout.trained.total).toBeLessThan(heldout.parent.total);

    // The inference service follows latest.txt; the gateway lists and serves the new version.
    let answer = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '96' });
    const until = Date.now() + 15_000;
    while (answer.body.version !== 'model1_v2' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '96' });
    }
    expect(answer.status).toBe(200);
    expect(answer.body.version).toBe('model1_v2');
    const models = (await getJson(`${s.gatewayUrl}/api/models`)).body.models as { name: string; live_version: string; versions: string[] }[];
    expect(models[0]).toMatchObject({ name: 'model1', live_version: 'model1_v2', versions: ['model1_v1', 'model1_v2'] });
  });
});

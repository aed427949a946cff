/**
 * One crash does not stop the platform: kill -9 of an inference process leaves the rest
 * serving, the supervisor (the same RunningStack `pnpm start` uses) starts it again with
 * back-off, and its model serves again.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { getJson, stylize } from '../support/http.ts';

let s: TestStack;
const restarts: string[] = [];
beforeAll(async () => {
  s = await startTestStack({ models: ['model1=wave', 'model2=udnie'], restart: { minDelayMs: 200, maxDelayMs: 2_000, stableMs: 30_000 } });
  s.stack.onRestart = (service) => restarts.push(service);
});
afterAll(async () => s?.stop());

describe('supervision', () => {
  it('restarts a killed inference process while the platform keeps serving', async () => {
    const photo = await readFile(await contentPhoto(1));
    const shot = (model: string) => stylize(s.gatewayUrl, { image: photo, model, max_size: '32' }, { 'x-client-id': 'supervised' });
    const pid = s.stack.pid('inference-model1')!;
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));

    // The gateway and the other model are untouched; the killed model answers 503 quickly.
    expect((await getJson(`${s.gatewayUrl}/api/models`)).status).toBe(200);
    expect((await shot('model2')).status).toBe(200);

    const deadline = Date.now() + 60_000;
    let status = 0;
    while (Date.now() < deadline) {
      const t = performance.now();
      status = (await shot('model1')).status;
      if (status === 200) break;
      expect(status).toBe(503);
      expect(performance.now() - t).toBeLessThan(6_000);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
    expect(restarts).toEqual(['inference-model1']);
    expect(s.stack.pid('inference-model1')).not.toBe(pid);
    expect((await shot('model2')).status).toBe(200);
  });
});

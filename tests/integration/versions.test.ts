/**
 * Model versions at run time: a new version goes live without a restart and without
 * failing requests in flight; excess load gets 503 + Retry-After; a silent inference
 * service gets 503 within the configured bound.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { buildInferenceApp } from '../../services/inference/src/app.ts';
import { loadInferenceConfig } from '../../services/inference/src/config.ts';
import { buildGatewayApp } from '../../services/gateway/src/app.ts';
import { loadGatewayConfig } from '../../services/gateway/src/config.ts';
import { contentPhoto, dataMirror, startTestStack, type TestStack } from '../support/stack.ts';
import { publishVersionFromStyle } from '../support/models.ts';
import { stylize } from '../support/http.ts';

describe('hot reload', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ models: ['model1=wave'], env: { NST_RELOAD_INTERVAL_MS: '200' } });
  });
  afterAll(async () => s?.stop());

  it('switches to a new live version without a restart or a failed request', async () => {
    const photo = await readFile(await contentPhoto(7));
    const v2 = await publishVersionFromStyle(s.store, 'model1', 'la_muse');
    expect(v2).toBe('model1_v2');
    const results: { status: number; version: unknown }[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '96' });
        results.push({ status: r.status, version: r.body.version });
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await s.store.setLatest('model1', v2);
    const deadline = Date.now() + 15_000;
    while (results.at(-1)?.version !== v2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    expect(results.every((r) => r.status === 200), JSON.stringify(results)).toBe(true);
    expect(results[0]!.version).toBe('model1_v1');
    expect(results.at(-1)!.version).toBe(v2);
    const ready = (await (await fetch(`${s.inferenceUrls.model1}/ready`)).json()) as { version: string };
    expect(ready.version).toBe(v2);
    const models = (await (await fetch(`${s.gatewayUrl}/api/models`)).json()) as { models: { live_version: string; versions: string[] }[] };
    expect(models.models[0]).toMatchObject({ live_version: v2, versions: ['model1_v1', v2] });

    // The inference service still serves a named older version on request.
    const pinned = await fetch(`${s.inferenceUrls.model1}/infer?version=model1_v1&max_size=64`, { method: 'POST', body: photo });
    expect([pinned.status, pinned.headers.get('x-model-version')]).toEqual([200, 'model1_v1']);
    const missing = await fetch(`${s.inferenceUrls.model1}/infer?version=model1_v9&max_size=64`, { method: 'POST', body: photo });
    expect(missing.status).toBe(404);
  });
});

describe('load shedding and timeouts', () => {
  it('queues up to the limit, then answers 503 with Retry-After', async () => {
    const storage = await mkdtemp(path.join(tmpdir(), 'nst-queue-'));
    const store = new ModelStore(storage);
    await pullPretrained(store, { name: 'model1', style: 'wave' }, { mirror: dataMirror(), cacheDir: path.join(storage, 'cache') });
    const config = loadInferenceConfig({ NST_STORAGE_DIR: storage, NST_MODELS: 'model1=wave', NST_MODEL: 'model1', NST_INFER_CONCURRENCY: '1', NST_QUEUE_SIZE: '1', LOG_LEVEL: 'silent' });
    const { app, versions } = await buildInferenceApp(config);
    await versions.start();
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const photo = await readFile(await contentPhoto(8));
      // 10 at once at 512 px: one runs (about a second), one waits, the rest are refused.
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${url}/infer?max_size=512`, { method: 'POST', body: photo })));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(2);
      expect(statuses.filter((x) => x === 503).length, statuses.join(',')).toBeGreaterThanOrEqual(1);
      const refused = answers.find((a) => a.status === 503)!;
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { message: string }).message).toMatch(/busy/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await fetch(`${url}/infer?max_size=64`, { method: 'POST', body: photo })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers 503 naming the model when its inference service does not answer in time', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const storage = await mkdtemp(path.join(tmpdir(), 'nst-slow-'));
    await pullPretrained(new ModelStore(storage), { name: 'model1', style: 'wave' }, { mirror: dataMirror(), cacheDir: path.join(storage, 'cache') });
    const config = loadGatewayConfig({
      NST_STORAGE_DIR: storage,
      NST_MODELS: 'model1=wave',
      NST_INFERENCE_URLS: `model1=http://127.0.0.1:${port}`,
      NST_INFERENCE_TIMEOUT_MS: '1500',
      NST_SERVE_FRONTEND: 'false',
      LOG_LEVEL: 'silent',
    });
    const { app } = await buildGatewayApp(config);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const started = Date.now();
      const r = await stylize(url, { image: await contentPhoto(9), model: 'model1' });
      expect(r.status).toBe(503);
      expect(r.body.message).toMatch(/model1 did not answer within 2 s|model1 did not answer within 1 s/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await app.close();
      for (const so of sockets) so.destroy();
      silent.close();
    }
  });
});

/**
 * A bad version never goes live: an artefact that does not match its card, or does not
 * load, published as latest under load costs no request; the previous version keeps
 * serving, and the failure shows in the log, the metrics and /ready. The admin path
 * refuses to make such a version a canary or live.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCard } from '@nst/common';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';
import { postJson, stylize } from '../support/http.ts';
import { publishVersionFromStyle } from '../support/models.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ models: ['model1=wave'], env: { NST_RELOAD_INTERVAL_MS: '200' } });
});
afterAll(async () => s?.stop());

/** Publishes bytes as the next version with a card; `sha256` overrides the true hash. */
async function publishBytes(bytes: Uint8Array, sha256?: string): Promise<string> {
  const card = await s.store.addVersion('model1', bytes, (version, n): ModelCard => ({
    model: 'model1',
    version,
    version_number: n,
    parent: 'model1_v1',
    style: 'wave',
    licence: 'test',
    created_at: new Date().toISOString(),
    source: { kind: 'test' },
    artefact: { file: `${version}.onnx`, sha256: sha256 ?? createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength },
    metrics: {},
  }));
  return card.version;
}

const ready = async () => (await (await fetch(`${s.inferenceUrls.model1}/ready`)).json()) as { status: string; version: string; failed?: { version: string; reason: string } };

describe('bad versions', () => {
  it('a corrupt latest costs zero failed requests and is reported', async () => {
    const photo = await readFile(await contentPhoto(6));
    const real = await readFile(s.store.onnxPath('model1', 'model1_v1'));
    const garbage = await publishBytes(randomBytes(200_000)); // hash matches, onnxruntime cannot load it
    const truncated = await publishBytes(real.subarray(0, real.length - 1000), createHash('sha256').update(real).digest('hex'));

    const results: number[] = [];
    let stop = false;
    const load = Promise.all(
      [0, 1].map(async (i) => {
        while (!stop) results.push((await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '48' }, { 'x-client-id': `load-${i}` })).status);
      }),
    );
    for (const bad of [garbage, truncated]) {
      await s.store.setLatest('model1', bad);
      const deadline = Date.now() + 10_000;
      while ((await ready()).failed?.version !== bad && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const r = await ready();
      expect(r).toMatchObject({ status: 'ready', version: 'model1_v1', failed: { version: bad } });
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await ready()).failed!.reason).toMatch(/sha256/);
    const gatewayReady = (await (await fetch(`${s.gatewayUrl}/ready`)).json()) as { models: Record<string, { failed?: { version: string } }> };
    expect(gatewayReady.models.model1!.failed!.version).toBe(truncated);
    stop = true;
    await load;
    expect(results.length).toBeGreaterThan(4);
    expect(results.filter((x) => x !== 200)).toEqual([]);

    const metrics = await (await fetch(`${s.inferenceUrls.model1}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`nst_model_load_failures_total\\{[^}]*version="${garbage}"[^}]*\\} 1`));
    expect(s.logs.some((l) => l.service === 'inference-model1' && l.line.includes('model_load_failed') && l.line.includes(truncated))).toBe(true);

    // The release path refuses both; a good version published after them goes live.
    const admin = { authorization: `Bearer ${s.adminToken}` };
    for (const bad of [garbage, truncated]) {
      const r = await postJson(`${s.gatewayUrl}/api/admin/models/model1/canary`, { version: bad, percent: 10 }, admin);
      expect([r.status, r.body.message]).toEqual([409, expect.stringMatching(/cannot be served/)]);
      expect((await postJson(`${s.gatewayUrl}/api/admin/models/model1/rollback`, { version: bad }, admin)).status).toBe(409);
    }
    const good = await publishVersionFromStyle(s.store, 'model1', 'la_muse');
    await s.store.setLatest('model1', good);
    const deadline = Date.now() + 15_000;
    while ((await ready()).version !== good && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = await ready();
    expect(after.version).toBe(good);
    expect(after.failed).toBeUndefined();
  });
});

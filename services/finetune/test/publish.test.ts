import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { loadCheckpoint, pullPretrained, type StyleNetWeights } from '@nst/network';
import { publishVersion, qualityGate } from '../src/jobs/publish.ts';

const mirror = process.env.NST_DATA_MIRROR;
let dir: string;
let store: ModelStore;
let weights: StyleNetWeights;
const better = { parent: { total: 10, style: 6, content: 3, tv: 1 }, trained: { total: 9, style: 5, content: 3, tv: 1 } };
const worse = { parent: better.trained, trained: better.parent };

describe('publishing a trained version', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nst-publish-'));
    store = new ModelStore(dir);
    await pullPretrained(store, { name: 'model1', style: 'wave' }, { mirror, cacheDir: path.join(dir, 'data-cache') });
    weights = await loadCheckpoint(path.join(mirror ?? path.join(dir, 'data-cache'), 'models/fast-style/wave'));
    // Stray and malformed files: none of them is a complete version, v7 is a half-written one.
    const m = store.modelDir('model1');
    await writeFile(path.join(m, 'model1_v7.onnx'), 'partial');
    await writeFile(path.join(m, 'model1_vX.json'), '{}');
    await writeFile(path.join(m, 'model1_v05.onnx'), 'x');
    await writeFile(path.join(m, '.model1_v9.onnx.123.tmp'), 'temp');
    await writeFile(path.join(m, 'model2_v50.json'), '{}');
    await writeFile(path.join(m, 'notes.txt'), 'hello');
    await mkdir(path.join(m, 'model1_v3.onnx.d'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gates on the held-out weighted loss', () => {
    expect(qualityGate(better).passed).toBe(true);
    expect(qualityGate({ parent: better.parent, trained: better.parent }).passed).toBe(true);
    expect(qualityGate(worse)).toMatchObject({ passed: false, reason: expect.stringMatching(/worse than its parent/) });
  });

  it('numbers the version above every file that claims one, moves latest.txt when the gate passes', async () => {
    const r = await publishVersion({ store, model: 'model1', parentVersion: 'model1_v1', weights, heldout: better, publish: { mode: 'latest' }, training: { steps: 1 }, jobId: 'job-1' });
    expect(r).toMatchObject({ version: 'model1_v8', published: true });
    expect(await store.latest('model1')).toBe('model1_v8');
    const card = await store.card('model1', 'model1_v8');
    expect(card).toMatchObject({ parent: 'model1_v1', style: 'wave', training: { steps: 1, publish: { mode: 'latest' } } });
    expect(card.metrics).toMatchObject({ heldout_parent: better.parent, heldout_trained: better.trained, quality_gate: { passed: true } });
    // The stray files are untouched.
    expect(await readFile(path.join(store.modelDir('model1'), 'model1_v7.onnx'), 'utf8')).toBe('partial');
  });

  it('keeps latest.txt when the gate fails and says why; never overwrites', async () => {
    const r = await publishVersion({ store, model: 'model1', parentVersion: 'model1_v8', weights, heldout: worse, publish: { mode: 'latest' }, training: {}, jobId: 'job-2' });
    expect(r).toMatchObject({ version: 'model1_v9', published: false, reason: expect.stringMatching(/not moved: quality gate failed/) });
    expect(await store.latest('model1')).toBe('model1_v8');
    const none = await publishVersion({ store, model: 'model1', parentVersion: 'model1_v8', weights, heldout: better, publish: { mode: 'none' }, training: {}, jobId: 'job-3' });
    expect(none).toMatchObject({ version: 'model1_v10', published: false, reason: expect.stringMatching(/"none"/) });
    expect(await store.latest('model1')).toBe('model1_v8');
    expect((await store.versions('model1')).slice(-3)).toEqual([8, 9, 10]);
    expect((await readdir(store.modelDir('model1'))).filter((f) => f.endsWith('.tmp'))).toEqual(['.model1_v9.onnx.123.tmp']);
  });
});

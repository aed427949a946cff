import { mkdtemp, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelStore, parseVersionName } from '../src/index.ts';
import { testCard } from './support/testCard.ts';

const card = (model: string) => testCard(model);

async function tempStore() {
  return new ModelStore(await mkdtemp(path.join(tmpdir(), 'nst-store-')));
}

describe('model store', () => {
  it('parses only well-formed version names of the same model', () => {
    expect(parseVersionName('model1', 'model1_v3')).toBe(3);
    expect(parseVersionName('model1', 'model1_v03')).toBeNull();
    expect(parseVersionName('model1', 'model2_v3')).toBeNull();
    expect(parseVersionName('model1', 'model1_v')).toBeNull();
    expect(parseVersionName('model1', 'model1_vx')).toBeNull();
    expect(parseVersionName('model_1', 'model_1_v2')).toBe(2);
  });

  it('numbers new versions above every existing file, ignoring stray and malformed ones', async () => {
    const store = await tempStore();
    const dir = store.modelDir('model1');
    await mkdir(dir, { recursive: true });
    // A crashed write left an artefact without a card, plus junk.
    await writeFile(path.join(dir, 'model1_v7.onnx'), 'partial');
    await writeFile(path.join(dir, 'model1_vX.onnx'), 'junk');
    await writeFile(path.join(dir, 'notes.txt'), 'hello');
    await writeFile(path.join(dir, 'model2_v40.json'), '{}');
    expect(await store.versions('model1')).toEqual([]);
    const c = await store.addVersion('model1', new Uint8Array([1, 2, 3]), card('model1'));
    expect(c.version).toBe('model1_v8');
    expect(await store.versions('model1')).toEqual([8]);
    // The stray v7 artefact was never overwritten.
    expect(await readFile(path.join(dir, 'model1_v7.onnx'), 'utf8')).toBe('partial');
  });

  it('allocates distinct versions to concurrent publishers and never overwrites', async () => {
    const store = await tempStore();
    const cards = await Promise.all([1, 2, 3, 4].map((i) => store.addVersion('model1', new Uint8Array([i]), card('model1'))));
    expect(cards.map((c) => c.version).sort()).toEqual(['model1_v1', 'model1_v2', 'model1_v3', 'model1_v4']);
    const bytes = await Promise.all(cards.map((c) => readFile(store.onnxPath('model1', c.version))));
    expect(new Set(bytes.map((b) => b[0])).size).toBe(4);
  });

  it('latest.txt names only complete versions and is replaced atomically', async () => {
    const store = await tempStore();
    expect(await store.latest('model1')).toBeNull();
    await store.addVersion('model1', new Uint8Array([1]), card('model1'));
    await expect(store.setLatest('model1', 'model1_v2')).rejects.toThrow(/no complete version/);
    await store.setLatest('model1', 'model1_v1');
    expect(await store.latest('model1')).toBe('model1_v1');
    expect(await readFile(store.latestPath('model1'), 'utf8')).toBe('model1_v1\n');
    const leftovers = (await readdir(store.modelDir('model1'))).filter((f) => f.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
    // A latest.txt naming a missing version reads as no live version.
    await writeFile(store.latestPath('model1'), 'model1_v9\n');
    expect(await store.latest('model1')).toBeNull();
  });
});

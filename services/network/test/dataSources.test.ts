import { cp, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelStore, dataFile, sourcesUnder } from '@nst/common';
import { pullPretrained } from '../src/index.ts';

const mirror = process.env.NST_DATA_MIRROR!;

describe('data sources', () => {
  it('lists every pinned file with its upstream and sha256', () => {
    const files = sourcesUnder('models/fast-style/wave/');
    expect(files.length).toBe(50);
    expect(files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.repo && f.commit)).toBe(true);
  });

  it('names the missing or corrupt file', async () => {
    const fake = await mkdtemp(path.join(tmpdir(), 'nst-mirror-'));
    await cp(path.join(mirror, 'models/fast-style/wave'), path.join(fake, 'models/fast-style/wave'), { recursive: true });
    await writeFile(path.join(fake, 'models/fast-style/wave/Variable_12'), Buffer.alloc(589824));
    await rm(path.join(fake, 'models/fast-style/wave/Variable_20'));
    const loc = { mirror: fake, cacheDir: path.join(fake, 'cache') };
    await expect(dataFile('models/fast-style/wave/Variable_12', loc)).rejects.toThrow(/Variable_12: .* sha256 [0-9a-f]+, expected/);
    await expect(dataFile('models/fast-style/wave/Variable_20', loc)).rejects.toThrow(/Variable_20: missing from the data mirror/);
    const store = new ModelStore(await mkdtemp(path.join(tmpdir(), 'nst-store-')));
    await expect(pullPretrained(store, { name: 'model1', style: 'wave' }, loc)).rejects.toThrow(/models\/fast-style\/wave\/Variable_(12|20)/);
    expect(await store.versions('model1')).toEqual([]);
  });

  it('imports a pretrained model as v1 with a card and sets it live', async () => {
    const store = new ModelStore(await mkdtemp(path.join(tmpdir(), 'nst-store-')));
    const r = await pullPretrained(store, { name: 'model9', style: 'la_muse' }, { mirror, cacheDir: '/nonexistent' });
    expect(r).toEqual({ model: 'model9', version: 'model9_v1', created: true });
    expect(await store.latest('model9')).toBe('model9_v1');
    const card = await store.card('model9', 'model9_v1');
    expect(card.parent).toBeNull();
    expect(card.licence).toMatch(/research/);
    expect(card.source.kind).toBe('pretrained');
    // Idempotent: a second pull keeps v1.
    expect((await pullPretrained(store, { name: 'model9', style: 'la_muse' }, { mirror, cacheDir: '/nonexistent' })).created).toBe(false);
  });
});

/**
 * A publish killed at any moment (SIGKILL, no clean-up) leaves no partial artefact: every
 * card names an artefact that is whole and matches its sha256, every artefact under a
 * version's name loads, and latest.txt names a complete version. A process publishes back to
 * back and is killed at random moments, again and again.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelStore, parseVersionName } from '@nst/common';
import { importOnnx, pullPretrained } from '@nst/network';

const mirror = process.env.NST_DATA_MIRROR;
const LOOP = path.join(import.meta.dirname, 'fixtures/publishLoop.ts');

async function publishUntilKilled(storage: string, afterMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOOP, storage], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`publish loop exited early (${code})`)));
  });
  await new Promise((r) => setTimeout(r, afterMs));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('a publish killed midway', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never leaves a half-written model file or card', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nst-publish-kill-'));
    const store = new ModelStore(dir);
    await pullPretrained(store, { name: 'model1', style: 'wave' }, { mirror, cacheDir: path.join(dir, 'data-cache') });
    for (let round = 0; round < 6; round++) await publishUntilKilled(dir, 150 + Math.floor(Math.random() * 400));

    const versions = await store.versions('model1');
    expect(versions.length).toBeGreaterThan(3);
    for (const n of versions) {
      const card = await store.card('model1', `model1_v${n}`);
      const bytes = await readFile(store.onnxPath('model1', card.version));
      expect(bytes.byteLength).toBe(card.artefact.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(card.artefact.sha256);
    }
    // Artefacts the kill left without a card are whole too (they appear by link, complete), and unlisted.
    const files = await readdir(store.modelDir('model1'));
    const artefacts = files.filter((f) => f.endsWith('.onnx') && parseVersionName('model1', f.slice(0, -5)) !== null);
    for (const f of artefacts) importOnnx(await readFile(path.join(store.modelDir('model1'), f)));
    const cards = files.filter((f) => f.endsWith('.json'));
    for (const f of cards) expect(artefacts).toContain(f.replace(/\.json$/, '.onnx'));
    expect(versions).toContain(parseVersionName('model1', (await store.latest('model1'))!));
    console.log(`publish killed 6 times: ${versions.length - 1} versions published, ${artefacts.length - versions.length} artefacts without a card, ${files.filter((f) => f.endsWith('.tmp')).length} temp files left`);
  }, 180_000);
});

/**
 * `pnpm models:pull` as a fresh install runs it: no data mirror, the pinned files downloaded
 * from the upstream (a loopback stand-in behind a redirect, with transient 503s) into an empty
 * store. Every model is imported; a corrupt or missing upstream file stops it with that file's
 * name and URL and leaves its model without any version.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS, ModelStore, modelListSchema, sourcesUnder, upstreamUrl } from '@nst/common';
import { startFakeUpstream, type FakeUpstream } from '../support/upstream.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const mirror = process.env.NST_DATA_MIRROR;

function modelsPull(env: Record<string, string>): Promise<{ code: number | null; output: string; seconds: number }> {
  const { NST_DATA_MIRROR: _ignored, ...inherited } = process.env;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('pnpm', ['models:pull'], { cwd: ROOT, env: { ...inherited, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, seconds: (performance.now() - started) / 1000 });
    });
  });
}

const logLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { message: string; 'log.level': string });

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String);
}

describe('pnpm models:pull from the upstream', () => {
  let upstream: FakeUpstream;
  const dirs: string[] = [];
  const tempStore = async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'nst-pull-'));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the upstream stand-in serves the shared data folder)');
    upstream = await startFakeUpstream(mirror, { flaky: new Set(['models/fast-style/wave/Variable_3', 'models/fast-style/scream/style.jpg']) });
  });
  afterAll(async () => {
    await upstream?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('imports every model into an empty store, with progress; a re-run downloads nothing', async () => {
    const storage = await tempStore();
    const r = await modelsPull({ NST_STORAGE_DIR: storage, NST_DATA_UPSTREAM: upstream.url });
    expect(r.code, r.output).toBe(0);
    const ready = logLines(r.output).find((l) => /^models ready in/.test(l.message))!.message;
    console.log(`models:pull of the default models from the loopback upstream: ${r.seconds.toFixed(1)} s wall including pnpm and tsx start-up; the script says "${ready}"`);
    const store = new ModelStore(storage);
    const models = modelListSchema.parse(DEFAULT_MODELS);
    for (const m of models) {
      expect(await store.latest(m.name)).toBe(`${m.name}_v1`);
      expect((await store.card(m.name, `${m.name}_v1`)).source.kind).toBe('pretrained');
    }
    // Every file came through the redirect; the two 503s were retried.
    const files = models.flatMap((m) => sourcesUnder(`models/fast-style/${m.style}/`));
    expect(upstream.redirects).toBeGreaterThanOrEqual(files.length + 2);
    expect(upstream.served.get('models/fast-style/wave/Variable_3')).toBe(2);
    expect(upstream.served.get('models/fast-style/scream/style.jpg')).toBe(2);
    const messages = logLines(r.output).map((l) => l.message);
    expect(messages).toContain(`downloading pretrained checkpoints from ${upstream.url}`);
    expect(messages.some((m) => /^downloading models\/fast-style\/wave\/: 50\/50 files, \d+\.\d\/\d+\.\d MB \(done\)$/.test(m))).toBe(true);

    // The verified cache is reused: a store that lost its models re-imports without fetching.
    await rm(path.join(storage, 'models'), { recursive: true });
    const before = [...upstream.served.values()].reduce((a, b) => a + b, 0);
    const again = await modelsPull({ NST_STORAGE_DIR: storage, NST_DATA_UPSTREAM: upstream.url });
    expect(again.code, again.output).toBe(0);
    expect([...upstream.served.values()].reduce((a, b) => a + b, 0)).toBe(before);
    expect(await store.latest('model4')).toBe('model4_v1');
  });

  it('stops at a corrupt or missing upstream file, naming it, and imports nothing of its model', async () => {
    const storage = await tempStore();
    const bad = sourcesUnder('models/fast-style/udnie/').find((s) => s.path.endsWith('/Variable_7'))!;
    upstream.faults.corrupt = new Set([bad.path]);
    const r = await modelsPull({ NST_STORAGE_DIR: storage, NST_DATA_UPSTREAM: upstream.url, NST_MODELS: 'model1=wave,model2=udnie' });
    expect(r.code).not.toBe(0);
    const errors = logLines(r.output).filter((l) => l['log.level'] === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe(`${bad.path}: ${upstreamUrl(bad, upstream.url)} has sha256 ${errors[0]!.message.match(/sha256 ([0-9a-f]{64})/)![1]}, expected ${bad.sha256}`);
    const store = new ModelStore(storage);
    expect(await store.latest('model1')).toBe('model1_v1');
    expect(await filesUnder(store.modelDir('model2'))).toEqual([]);
    // Nothing unverified is left in the cache either.
    const cached = await filesUnder(path.join(storage, 'data-cache'));
    expect(cached.filter((f) => f.endsWith('Variable_7') && f.includes('udnie'))).toEqual([]);
    expect(cached.filter((f) => f.endsWith('.part'))).toEqual([]);

    upstream.faults.corrupt = undefined;
    upstream.faults.missing = new Set([bad.path]);
    const missing = await modelsPull({ NST_STORAGE_DIR: storage, NST_DATA_UPSTREAM: upstream.url, NST_MODELS: 'model2=udnie' });
    expect(missing.code).not.toBe(0);
    expect(logLines(missing.output).find((l) => l['log.level'] === 'error')!.message).toBe(`${bad.path}: download from ${upstreamUrl(bad, upstream.url)} answered HTTP 404`);
    expect(await filesUnder(store.modelDir('model2'))).toEqual([]);
    upstream.faults.missing = undefined;
  });
});

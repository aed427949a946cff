/**
 * NST_FINETUNE_BACKEND: auto takes tfjs-node when it loads and otherwise wasm, saying why;
 * node refuses to fall back; wasm is wasm. Each case in a fresh process (a backend is chosen
 * once per thread). Where tfjs-node's native binding is installed, auto and node give
 * 'tensorflow' instead, and this test says so.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadFinetuneConfig } from '../src/config.ts';

const run = promisify(execFile);
const FIXTURE = path.join(import.meta.dirname, 'fixtures/backendChoice.ts');

async function choose(setting: string): Promise<{ ok: boolean; backend?: string; reason?: string; error?: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, NST_FINETUNE_BACKEND: setting }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('training backend selection', () => {
  it('defaults to the onnx engine and accepts onnx, auto, node and wasm only', () => {
    expect(loadFinetuneConfig({}).NST_FINETUNE_BACKEND).toBe('onnx');
    for (const b of ['onnx', 'auto', 'node', 'wasm']) expect(loadFinetuneConfig({ NST_FINETUNE_BACKEND: b }).NST_FINETUNE_BACKEND).toBe(b);
    expect(() => loadFinetuneConfig({ NST_FINETUNE_BACKEND: 'gpu' })).toThrow(/NST_FINETUNE_BACKEND/);
  });

  it('auto falls back to wasm with the reason, node does not, wasm is forced', async () => {
    const [auto, node, wasm] = await Promise.all([choose('auto'), choose('node'), choose('wasm')]);
    expect(wasm).toMatchObject({ ok: true, backend: 'wasm', reason: 'NST_FINETUNE_BACKEND=wasm' });
    if (auto.backend === 'tensorflow') {
      console.log('tfjs-node loads on this machine: auto and node use it');
      expect(node).toMatchObject({ ok: true, backend: 'tensorflow' });
      return;
    }
    expect(auto).toMatchObject({ ok: true, backend: 'wasm', reason: expect.stringMatching(/^auto: @tensorflow\/tfjs-node unavailable \(.+\)$/) });
    expect(node).toMatchObject({ ok: false, error: expect.stringMatching(/^NST_FINETUNE_BACKEND=node but @tensorflow\/tfjs-node does not load: .+/) });
  });
});

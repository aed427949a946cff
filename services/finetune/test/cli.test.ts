/**
 * The command line run as a process: `train` trains and stores a version and copies its ONNX
 * out, `stylise` applies that file and a stored version to a real photo, bad usage exits 2.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { HELDOUT_PREFIX, listedPhotos } from '../src/ml/dataset.ts';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../src/cli.ts');
const finetune = (args: string[], env: NodeJS.ProcessEnv) =>
  run(process.execPath, ['--import', 'tsx', cli, ...args], { env, timeout: 240_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('fine-tuning command line', () => {
  it('trains one model, then stylises a photo with the new file and with the stored version', async () => {
    const storage = await mkdtemp(path.join(tmpdir(), 'nst-cli-'));
    const loc = { mirror: process.env.NST_DATA_MIRROR, cacheDir: path.join(storage, 'cache') };
    await pullPretrained(new ModelStore(storage), { name: 'model1', style: 'wave' }, loc);
    const env = { ...process.env, NST_MODELS: 'model1=wave', LOG_LEVEL: 'warn' };
    const onnx = path.join(storage, 'model1_v2.onnx');

    const trained = await finetune(
      ['train', '--model', 'model1', '--steps', '2', '--image-size', '64', '--batch-size', '2', '--max-images', '2', '--heldout-images', '1', '--data', 'base', '--publish', 'none', '--storage', storage, '--output', onnx],
      env,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as { version: string; published: boolean; steps: number; heldout: { trained: { total: number } } };
    expect(result).toMatchObject({ version: 'model1_v2', published: false, steps: 2 });
    expect(result.heldout.trained.total).toBeGreaterThan(0);
    expect(await readFile(onnx)).toEqual(await readFile(new ModelStore(storage).onnxPath('model1', 'model1_v2')));
    expect(await new ModelStore(storage).latest('model1')).toBe('model1_v1');

    const [photo] = await listedPhotos(HELDOUT_PREFIX, loc, 'heldout', 1);
    const input = photo!.path;
    const fromFile = path.join(storage, 'from-file.jpg');
    const fromStore = path.join(storage, 'from-store.png');
    expect((await finetune(['stylise', '--onnx', onnx, '--input', input, '--output', fromFile, '--max-side', '256'], env)).code).toBe(0);
    expect((await finetune(['stylise', '--model', 'model1', '--storage', storage, '--input', input, '--output', fromStore, '--max-side', '256'], env)).code).toBe(0);
    const [a, b] = await Promise.all([sharp(fromFile).metadata(), sharp(fromStore).metadata()]);
    expect([a.format, b.format]).toEqual(['jpeg', 'png']);
    expect(Math.max(a.width, a.height)).toBeLessThanOrEqual(256);
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    await rm(storage, { recursive: true, force: true });
  }, 300_000);

  it('exits 2 with a reason on bad usage', async () => {
    const env = { ...process.env, LOG_LEVEL: 'warn' };
    const noModel = await finetune(['train', '--steps', '2'], env);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/--model is required/);
    const badSize = await finetune(['train', '--model', 'model1', '--image-size', '30'], env);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/image_size/);
    const both = await finetune(['stylise', '--onnx', 'x.onnx', '--model', 'model1', '--input', 'a.jpg', '--output', 'b.png'], env);
    expect(both.code).toBe(2);
    expect((await finetune(['paint'], env)).code).toBe(2);
  });
});

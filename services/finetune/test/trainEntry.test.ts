/**
 * The Kubernetes Job's entry point (`src/cli.ts job`) run as a process, as the Job runs it:
 * it trains, publishes, and leaves its progress and result on the shared volume.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { readProgress } from '../src/jobs/jobProgress.ts';

const run = promisify(execFile);
const entry = path.resolve(import.meta.dirname, '../src/cli.ts');

describe('training Job entry point', () => {
  it('trains from NST_TRAINING_JOB and reports through the shared volume', async () => {
    const storage = await mkdtemp(path.join(tmpdir(), 'nst-trainjob-'));
    await pullPretrained(new ModelStore(storage), { name: 'model1', style: 'wave' }, { mirror: process.env.NST_DATA_MIRROR, cacheDir: path.join(storage, 'cache') });
    const env = {
      ...process.env,
      NST_STORAGE_DIR: storage,
      NST_MODELS: 'model1=wave',
      LOG_LEVEL: 'info',
      NST_TRAINING_JOB: JSON.stringify({ id: 'job-k8s-1', model: 'model1', params: { model: 'model1', steps: 2, image_size: 64, batch_size: 2, max_images: 2, heldout_images: 1, data: 'base', publish: 'none' } }),
    };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', entry, 'job'], { env, timeout: 240_000 });
    // Every line is the services' ECS JSON; the last one says how the run ended.
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { 'ecs.version'?: string; 'service.name'?: string; message: string; nst?: { job?: { state?: string } } });
    expect(lines.every((l) => l['ecs.version'] && l['service.name'] === 'finetune-job')).toBe(true);
    expect(lines[0]!.message).toBe('training job job-k8s-1 started');
    expect(lines.at(-1)!.nst?.job?.state).toBe('succeeded');
    expect(lines.some((l) => /^training backend (onnx|wasm|tensorflow) .*: (auto|NST_FINETUNE_BACKEND)/.test(l.message))).toBe(true);
    const progress = await readProgress(storage, 'job-k8s-1');
    expect(progress?.error).toBeNull();
    expect(progress?.step).toBe(2);
    expect(progress?.result).toMatchObject({ version: 'model1_v2', published: false });
    expect(await new ModelStore(storage).versions('model1')).toEqual([1, 2]);

    const bad = await run(process.execPath, ['--import', 'tsx', entry, 'job'], { env: { ...env, NST_TRAINING_JOB: '{"id":"x"}' } }).catch((e: { code: number; stdout: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect(JSON.parse((bad as { stdout: string }).stdout.trim())).toMatchObject({ 'log.level': 'fatal', message: expect.stringMatching(/NST_TRAINING_JOB is not a training envelope/) });
  });
});

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadInferenceConfig } from '../src/config.ts';

describe('inference threads', () => {
  const base = { NST_MODELS: 'model1=wave,model2=udnie', NST_MODEL: 'model2' };
  it('default to the cores divided among the inference processes on the host', () => {
    expect(loadInferenceConfig(base).threads).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
    expect(loadInferenceConfig({ ...base, NST_INFERENCE_PROCESSES: '1' }).threads).toBe(availableParallelism());
    expect(loadInferenceConfig({ ...base, NST_INFERENCE_PROCESSES: '64' }).threads).toBe(1);
  });
  it('follow NST_ORT_THREADS when set (0: every core, onnxruntime decides)', () => {
    expect(loadInferenceConfig({ ...base, NST_ORT_THREADS: '3' }).threads).toBe(3);
    expect(loadInferenceConfig({ ...base, NST_ORT_THREADS: '0' }).threads).toBe(0);
  });
});

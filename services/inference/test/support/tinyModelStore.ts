/**
 * A model store in a temp folder holding versions of the real style network with made-up
 * weights: onnxruntime loads and runs them like any published version, without the data
 * mirror. Each seed gives different weights, so versions are told apart by their output.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelStore } from '@nst/common';
import { testCard } from '../../../common/test/support/testCard.ts';
import { convLayers, exportOnnx, variableShapes, type StyleNetWeights } from '@nst/network';

/** Small deterministic weights (a linear congruential generator): the network's output stays in range. */
export function madeUpWeights(seed: number): StyleNetWeights {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const scales = new Set(convLayers().map((l) => l.scale));
  const weights: StyleNetWeights = new Map();
  for (const [name, shape] of variableShapes()) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    // Instance-norm scales near 1, shifts and kernels near 0.
    const isScale = scales.has(name);
    for (let i = 0; i < values.length; i++) values[i] = (isScale ? 1 : 0) + next() * 0.1;
    weights.set(name, values);
  }
  return weights;
}


export interface TinyModelStore {
  root: string;
  store: ModelStore;
  /** Publishes a version made from `seed` and returns its name. */
  publish(model: string, seed: number): Promise<string>;
  remove(): Promise<void>;
}

export async function tinyModelStore(): Promise<TinyModelStore> {
  const root = await mkdtemp(path.join(tmpdir(), 'nst-inference-unit-'));
  const store = new ModelStore(root);
  return {
    root,
    store,
    async publish(model, seed) {
      const onnx = exportOnnx(madeUpWeights(seed));
      return (await store.addVersion(model, onnx, testCard(model, onnx))).version;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * Data-parallel helper: a second worker thread that computes the gradients of part of each
 * batch on its own core (single-threaded wasm), for the training worker that owns the
 * optimizer. It receives the current weights with every request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { weightsToTensors } from '@nst/common/network/tfStyleNet';
import { styleTargets } from '../ml/perceptualLoss.ts';
import { initTrainingBackend } from './tfBackend.ts';
import { batchGradients, type TrainingInput } from '../ml/trainingLoop.ts';
import { Vgg19 } from '../ml/vgg19.ts';

export type HelperRequest = { weights: Map<string, Float32Array>; indices: number[]; share: number };
export type HelperReply =
  | { type: 'ready' }
  | { type: 'gradients'; grads: Map<string, Float32Array>; sums: { total: number; style: number; content: number; tv: number } }
  | { type: 'error'; message: string };

const input = workerData as Omit<TrainingInput, 'heldOut'>;
const post = (m: HelperReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

try {
  await initTrainingBackend({ prefer: 'wasm', threads: 1 });
  const vgg = new Vgg19(input.vgg);
  const vars = weightsToTensors(input.weights, true);
  const style = tf.tensor4d(input.style.data, [1, input.style.height, input.style.width, 3]);
  const grams = styleTargets(vgg, style);
  style.dispose();
  const ctx = { vgg, vars, grams, photos: input.photos, params: input.params };
  parentPort!.on('message', (req: HelperRequest) => {
    void (async () => {
      try {
        for (const [name, v] of vars) (v as tf.Variable).assign(tf.tensor(req.weights.get(name)!, v.shape));
        const { grads, sums } = await batchGradients(ctx, req.indices, req.share);
        const out = new Map<string, Float32Array>();
        for (const [name, g] of Object.entries(grads)) out.set(name, ((await g.data()) as Float32Array).slice());
        tf.dispose(Object.values(grads));
        post({ type: 'gradients', grads: out, sums }, [...out.values()].map((a) => a.buffer as ArrayBuffer));
      } catch (err) {
        post({ type: 'error', message: (err as Error).message });
      }
    })();
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
}

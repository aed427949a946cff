/**
 * Worker-thread entry of a training run, so training never blocks the HTTP server. The
 * parent sends the inputs as workerData; it cancels a TF.js run by terminating the thread,
 * and an onnxruntime run by a `cancel` message that stops it at its next step or phase.
 *
 * A TF.js run uses XNNPACK on every core; the onnx engine (onnx/) runs in this worker on
 * onnxruntime's own threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { usesOnnxEngine } from './engineChoice.ts';
import { onnxEngineInfo, trainOnnx } from './onnx/onnxTrainer.ts';
import { initTrainingBackend, type BackendOptions } from './tfBackend.ts';
import { train, type TrainingHooks, type TrainingInput, type TrainingOutput } from '../ml/trainingLoop.ts';
import type { WorkerMessage } from './trainInWorker.ts';

const { input, backend } = workerData as { input: TrainingInput; backend: BackendOptions };
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

let cancelled = false;
parentPort!.on('message', (m: { type?: string }) => {
  if (m?.type === 'cancel') cancelled = true;
});
// The listener must not keep a finished worker alive.
parentPort!.unref();
const unlessCancelled = () => {
  if (cancelled) throw new Error('cancelled');
};

const hooks: TrainingHooks = {
  onPhase: (phase) => {
    unlessCancelled();
    post({ type: 'phase', phase });
  },
  onStep: (r) => {
    unlessCancelled();
    post({ type: 'step', ...r });
  },
};

async function trainTfjs(): Promise<TrainingOutput> {
  const info = await initTrainingBackend(backend);
  post({ type: 'backend', ...info });
  return train(input, hooks);
}

async function trainOnOnnxRuntime(): Promise<TrainingOutput> {
  const info = onnxEngineInfo({ threads: backend.threads });
  post({ type: 'backend', ...info, reason: 'NST_FINETUNE_BACKEND=onnx (onnxruntime)' });
  return trainOnnx(input, hooks, info);
}

try {
  const out = usesOnnxEngine(backend) ? await trainOnOnnxRuntime() : await trainTfjs();
  post({ type: 'done', output: out }, [...out.weights.values()].map((w) => w.buffer as ArrayBuffer));
} catch (err) {
  post({ type: 'error', message: (err as Error).message ?? String(err) });
}

/**
 * Worker-thread entry of a training run, so training never blocks the HTTP server. The
 * parent sends the inputs as workerData; it cancels a TF.js run by terminating the thread,
 * and an onnxruntime run by a `cancel` message that stops it at its next step or phase.
 *
 * With dataParallel (wasm backend, several cores, batches of two or more) this worker and a
 * helper worker (gradientWorker.ts) each take half of every batch, single-threaded;
 * otherwise one worker runs XNNPACK on every core. The onnx engine (engine/onnx/) runs in
 * this worker on onnxruntime's own threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { usesOnnxEngine } from './engineChoice.ts';
import { onnxEngineInfo, trainOnnx } from './onnx/onnxTrainer.ts';
import { WorkerGradientPeer } from './gradientPeer.ts';
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

let peer: WorkerGradientPeer | undefined;
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
  const threads = backend.threads ?? 1;
  const parallel = backend.dataParallel === true && backend.prefer !== 'cpu' && threads >= 2 && input.params.batchSize >= 2;
  const info = await initTrainingBackend(parallel ? { ...backend, threads: 1 } : backend);
  if (parallel && info.backend === 'wasm') peer = await WorkerGradientPeer.start(input);
  post({ type: 'backend', ...info, workers: peer ? 2 : 1 });
  return train(input, hooks, peer);
}

async function trainOnOnnxRuntime(): Promise<TrainingOutput> {
  const info = onnxEngineInfo({ threads: backend.threads });
  post({ type: 'backend', ...info, reason: 'NST_FINETUNE_BACKEND=onnx (onnxruntime)', workers: 1 });
  return trainOnnx(input, hooks, info);
}

try {
  const out = usesOnnxEngine(backend) ? await trainOnOnnxRuntime() : await trainTfjs();
  post({ type: 'done', output: out }, [...out.weights.values()].map((w) => w.buffer as ArrayBuffer));
} catch (err) {
  post({ type: 'error', message: (err as Error).message ?? String(err) });
} finally {
  await peer?.stop();
}

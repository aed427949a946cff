/**
 * Worker-thread entry of a training run, so training never blocks the HTTP server. The
 * parent sends the inputs as workerData and cancels by terminating the thread.
 *
 * With dataParallel (wasm backend, several cores, batches of two or more) this worker and a
 * helper worker (gradientWorker.ts) each take half of every batch, single-threaded;
 * otherwise one worker runs XNNPACK on every core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WorkerGradientPeer } from './gradientPeer.ts';
import { initTrainingBackend, type BackendOptions } from './tfBackend.ts';
import { train, type TrainingInput } from './trainer.ts';
import type { WorkerMessage } from './trainInWorker.ts';

const { input, backend } = workerData as { input: TrainingInput; backend: BackendOptions };
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

let peer: WorkerGradientPeer | undefined;
try {
  const threads = backend.threads ?? 1;
  const parallel = backend.dataParallel === true && backend.prefer !== 'cpu' && threads >= 2 && input.params.batchSize >= 2;
  const info = await initTrainingBackend(parallel ? { ...backend, threads: 1 } : backend);
  if (parallel && info.backend === 'wasm') peer = await WorkerGradientPeer.start(input);
  post({ type: 'backend', ...info, workers: peer ? 2 : 1 });
  const out = await train(
    input,
    {
      onPhase: (phase) => post({ type: 'phase', phase }),
      onStep: (r) => post({ type: 'step', ...r }),
    },
    peer,
  );
  post({ type: 'done', output: out }, [...out.weights.values()].map((w) => w.buffer as ArrayBuffer));
} catch (err) {
  post({ type: 'error', message: (err as Error).message ?? String(err) });
} finally {
  await peer?.stop();
}

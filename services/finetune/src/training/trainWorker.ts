/**
 * Worker-thread entry of a training run, so training never blocks the HTTP server. The
 * parent sends the inputs as workerData and cancels by terminating the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initTrainingBackend, type BackendOptions } from './tfBackend.ts';
import { train, type TrainingInput } from './trainer.ts';
import type { WorkerMessage } from './trainInWorker.ts';

const { input, backend } = workerData as { input: TrainingInput; backend: BackendOptions };
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

try {
  const info = await initTrainingBackend(backend);
  post({ type: 'backend', ...info });
  const out = await train(input, {
    onPhase: (phase) => post({ type: 'phase', phase }),
    onStep: (r) => post({ type: 'step', ...r }),
  });
  post({ type: 'done', output: out }, [...out.weights.values()].map((w) => w.buffer as ArrayBuffer));
} catch (err) {
  post({ type: 'error', message: (err as Error).message ?? String(err) });
}

/** Runs one training in a fresh worker thread (its own wasm heap, freed when it exits). */
import { Worker } from 'node:worker_threads';
import type { BackendInfo, BackendOptions } from './tfBackend.ts';
import type { StepReport, TrainingHooks, TrainingInput, TrainingOutput } from './trainer.ts';

export type WorkerMessage =
  | ({ type: 'backend' } & BackendInfo)
  | { type: 'phase'; phase: Parameters<NonNullable<TrainingHooks['onPhase']>>[0] }
  | ({ type: 'step' } & StepReport)
  | { type: 'done'; output: TrainingOutput }
  | { type: 'error'; message: string };

export class TrainingCancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface WorkerHooks extends TrainingHooks {
  onBackend?: (info: BackendInfo) => void;
}

/**
 * The worker runs TypeScript: under tsx the loader is inherited; elsewhere (vitest's own
 * workers, plain node) it is added explicitly.
 */
function workerExecArgv(): string[] {
  if (process.execArgv.some((a) => a.includes('tsx'))) return process.execArgv;
  return ['--import', import.meta.resolve('tsx')];
}

export function trainInWorker(input: TrainingInput, backend: BackendOptions, hooks: WorkerHooks, signal?: AbortSignal): Promise<TrainingOutput> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TrainingCancelledError());
    const worker = new Worker(new URL('./trainWorker.ts', import.meta.url), {
      workerData: { input, backend },
      execArgv: workerExecArgv(),
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => finish(() => reject(new TrainingCancelledError()));
    signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: WorkerMessage) => {
      if (settled) return;
      try {
        if (m.type === 'backend') hooks.onBackend?.(m);
        else if (m.type === 'phase') hooks.onPhase?.(m.phase);
        else if (m.type === 'step') void hooks.onStep?.(m);
        else if (m.type === 'done') finish(() => resolve(m.output));
        else finish(() => reject(new Error(m.message)));
      } catch (err) {
        finish(() => reject(err as Error));
      }
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(new Error(`training worker exited with code ${code}`))));
  });
}

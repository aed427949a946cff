/** Runs one training in a fresh worker thread (its own wasm heap, freed when it exits). */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { usesOnnxEngine } from './engineChoice.ts';
import type { BackendInfo, BackendOptions } from './tfBackend.ts';
import type { StepReport, TrainingHooks, TrainingInput, TrainingOutput } from '../ml/trainingLoop.ts';

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
 * The worker's entry is TypeScript. Node 20 workers ignore an inherited `--import tsx`, so a
 * tiny bootstrap registers tsx's loader inside the worker first, wherever the parent runs
 * (tsx, vitest). A compiled .js entry is imported directly.
 */
function workerBootstrap(entry: URL): string {
  if (!entry.pathname.endsWith('.ts')) return `import(${JSON.stringify(entry.href)});`;
  // The ESM build of tsx's API (require.resolve finds the CJS one next to it).
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
}

export function trainInWorker(input: TrainingInput, backend: BackendOptions, hooks: WorkerHooks, signal?: AbortSignal): Promise<TrainingOutput> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TrainingCancelledError());
    const worker = new Worker(workerBootstrap(new URL('./trainWorker.ts', import.meta.url)), {
      eval: true,
      workerData: { input, backend },
      execArgv: [],
    });
    let settled = false;
    // onnxruntime runs on threads of its own: terminating the worker in the middle of a run
    // aborts the whole process. Such a run is asked to stop and ends at its next step.
    const cooperative = usesOnnxEngine(backend);
    let cancelling = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      if (!cancelling) void worker.terminate();
    };
    const onAbort = () => {
      if (!cooperative) return finish(() => reject(new TrainingCancelledError()));
      cancelling = true;
      worker.postMessage({ type: 'cancel' });
    };
    signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: WorkerMessage) => {
      if (settled) return;
      try {
        if (m.type === 'backend') hooks.onBackend?.(m);
        else if (m.type === 'phase') hooks.onPhase?.(m.phase);
        else if (m.type === 'step') void hooks.onStep?.(m);
        else if (m.type === 'done') finish(() => resolve(m.output));
        else finish(() => reject(cancelling ? new TrainingCancelledError() : new Error(m.message)));
      } catch (err) {
        finish(() => reject(err as Error));
      }
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(cancelling ? new TrainingCancelledError() : new Error(`training worker exited with code ${code}`))));
  });
}

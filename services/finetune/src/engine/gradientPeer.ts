/** The training worker's side of the data-parallel helper (gradientWorker.ts). */
import { Worker } from 'node:worker_threads';
import type { TensorWeights } from '@nst/common/network/tfStyleNet';
import type { HelperReply, HelperRequest } from './gradientWorker.ts';
import type { GradientPeer, TrainingInput } from '../ml/trainingLoop.ts';
import { workerBootstrap } from './trainInWorker.ts';

export class WorkerGradientPeer implements GradientPeer {
  private pending: { resolve: (r: Extract<HelperReply, { type: 'gradients' }>) => void; reject: (e: Error) => void } | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: HelperReply) => {
      const p = this.pending;
      this.pending = null;
      if (m.type === 'gradients') p?.resolve(m);
      else if (m.type === 'error') p?.reject(new Error(`gradient helper: ${m.message}`));
    });
    worker.on('error', (err) => this.pending?.reject(err));
  }

  /** Starts the helper with everything but the held-out photos; resolves once it is ready. */
  static async start(input: TrainingInput): Promise<WorkerGradientPeer> {
    const { heldOut: _heldOut, ...data } = input;
    const worker = new Worker(workerBootstrap(new URL('./gradientWorker.ts', import.meta.url)), { eval: true, workerData: data, execArgv: [] });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m: HelperReply) => (m.type === 'ready' ? resolve() : reject(new Error(`gradient helper: ${m.type === 'error' ? m.message : m.type}`))));
      worker.once('error', reject);
    });
    return new WorkerGradientPeer(worker);
  }

  async gradients(vars: TensorWeights, indices: number[], share: number) {
    const weights = new Map<string, Float32Array>();
    for (const [name, v] of vars) weights.set(name, ((await v.data()) as Float32Array).slice());
    const reply = new Promise<Extract<HelperReply, { type: 'gradients' }>>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    const req: HelperRequest = { weights, indices, share };
    this.worker.postMessage(req, [...weights.values()].map((a) => a.buffer as ArrayBuffer));
    const r = await reply;
    return { grads: r.grads, sums: r.sums };
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Training jobs of this process: one runs at a time, the others wait in order. Jobs and
 * their progress live in memory (a restart forgets them; published versions are on disk).
 */
import { randomUUID } from 'node:crypto';
import type { LossParts } from '../training/perceptualLoss.ts';
import { TrainingCancelledError } from '../training/trainInWorker.ts';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
const FINISHED: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

export interface JobResult {
  version: string;
  published: boolean;
  /** Why latest.txt did or did not move. */
  reason: string;
  heldout: { parent: LossParts; trained: LossParts };
}

export interface Job<P = unknown> {
  id: string;
  model: string;
  state: JobState;
  /** What the running job is doing now (preparing data, training, publishing, …). */
  phase: string | null;
  params: P;
  step: number;
  steps: number;
  loss_history: Array<{ step: number } & LossParts>;
  seconds_per_step: number | null;
  eta_seconds: number | null;
  backend: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: JobResult | null;
  error: string | null;
}

export type JobRunner<P> = (job: Job<P>, signal: AbortSignal) => Promise<JobResult>;

export class QueueFullError extends Error {}

export class JobQueue<P> {
  private readonly jobs = new Map<string, Job<P>>();
  private readonly waiting: Job<P>[] = [];
  private running: { job: Job<P>; abort: AbortController } | null = null;

  constructor(
    private readonly runner: JobRunner<P>,
    private readonly opts: { maxQueued: number; keepFinished: number; onStateChange?: (job: Job<P>) => void },
  ) {}

  submit(model: string, params: P, steps: number): Job<P> {
    if (this.running && this.waiting.length >= this.opts.maxQueued) {
      throw new QueueFullError(`${this.waiting.length} jobs are already waiting`);
    }
    const job: Job<P> = {
      id: randomUUID(),
      model,
      state: 'queued',
      phase: null,
      params,
      step: 0,
      steps,
      loss_history: [],
      seconds_per_step: null,
      eta_seconds: null,
      backend: null,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      result: null,
      error: null,
    };
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    this.changed(job);
    this.startNext();
    return job;
  }

  get(id: string): Job<P> | undefined {
    return this.jobs.get(id);
  }

  list(): Job<P>[] {
    return [...this.jobs.values()].reverse();
  }

  countByState(): Record<JobState, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const j of this.jobs.values()) counts[j.state]++;
    return counts;
  }

  /** Cancels a queued or running job; false when it had already finished. */
  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job || FINISHED.has(job.state)) return false;
    if (this.running?.job === job) {
      this.running.abort.abort();
      return true;
    }
    this.waiting.splice(this.waiting.indexOf(job), 1);
    this.finish(job, 'cancelled', null, 'cancelled before it started');
    return true;
  }

  /** Cancels everything (shutdown) and waits for the running job to stop. */
  async close(): Promise<void> {
    for (const j of [...this.waiting]) this.cancel(j.id);
    const current = this.running;
    if (current) {
      current.abort.abort();
      await new Promise<void>((resolve) => {
        const check = () => (this.running === current ? setTimeout(check, 20) : resolve());
        check();
      });
    }
  }

  private startNext(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) return;
    const abort = new AbortController();
    this.running = { job, abort };
    job.state = 'running';
    job.started_at = new Date().toISOString();
    this.changed(job);
    void this.runner(job, abort.signal).then(
      (result) => this.finish(job, 'succeeded', result, null),
      (err: Error) => {
        if (err instanceof TrainingCancelledError || abort.signal.aborted) this.finish(job, 'cancelled', null, 'cancelled while running');
        else this.finish(job, 'failed', null, err.message);
      },
    );
  }

  private finish(job: Job<P>, state: JobState, result: JobResult | null, error: string | null): void {
    job.state = state;
    job.result = result;
    job.error = state === 'failed' ? error : null;
    job.phase = state === 'cancelled' ? error : null;
    job.eta_seconds = null;
    job.finished_at = new Date().toISOString();
    if (this.running?.job === job) this.running = null;
    this.changed(job);
    this.prune();
    this.startNext();
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => FINISHED.has(j.state));
    for (const j of finished.slice(0, Math.max(0, finished.length - this.opts.keepFinished))) this.jobs.delete(j.id);
  }

  private changed(job: Job<P>): void {
    this.opts.onStateChange?.(job);
  }
}

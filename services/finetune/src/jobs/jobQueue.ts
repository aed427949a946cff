/**
 * Training jobs of this process: one runs at a time, the others wait in order. Every change
 * is saved to the job records (the platform store's `jobRecords`) and read back at start-up, so a restart keeps
 * the queue; a run that lived in this process is then `interrupted`, one that lives elsewhere
 * (a Kubernetes Job) is followed again.
 */
import { randomUUID } from 'node:crypto';
import { JOB_STATES, type JobRecord, type JobResult, type JobState } from '@nst/contracts';
import { TrainingCancelledError } from '../engine/trainInWorker.ts';
import type { JobRecords } from '@nst/common';

export const FINISHED_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

/** A job of this process: the stored record's fields, with the runner's own parameters. */
export type Job<P = unknown> = Omit<JobRecord, 'params'> & { params: P };

/** `resumed`: the run was started before a restart and is to be followed, not started again. */
export type JobRunner<P> = (job: Job<P>, signal: AbortSignal, resumed: boolean) => Promise<JobResult>;

export class QueueFullError extends Error {}

/** The abort reason when the service stops (not a cancellation). */
export class QueueShutdown extends Error {
  constructor() {
    super('the fine-tuning service is stopping');
  }
}

/** Thrown by a runner that stopped following a run which goes on without this process. */
export class RunDetachedError extends Error {}

const INTERRUPTED_BY_SHUTDOWN = 'the fine-tuning service stopped while this job ran in its process; POST /jobs/:id/retry runs it again';
const INTERRUPTED_BY_CRASH = 'the fine-tuning service died while this job ran in its process; POST /jobs/:id/retry runs it again';

export interface JobQueueOptions<P> {
  maxQueued: number;
  keepFinished: number;
  /** This process's runner name, recorded in each job. */
  runner: string;
  records?: JobRecords<Job<P>>;
  /** How often the running job's progress is saved (ms). */
  saveEveryMs?: number;
  onStateChange?: (job: Job<P>) => void;
  onSaveError?: (job: Job<P>, err: Error) => void;
}

/** A job that has not started: nothing run, nothing measured yet. */
export function newJob<P>(fields: Pick<Job<P>, 'id' | 'model' | 'params' | 'runner' | 'steps' | 'created_at'> & Partial<Job<P>>): Job<P> {
  return {
    state: 'queued',
    phase: null,
    kubernetes_job: null,
    retry_of: null,
    step: 0,
    loss_history: [],
    seconds_per_step: null,
    eta_seconds: null,
    backend: null,
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    ...fields,
  };
}

export class JobQueue<P> {
  private readonly jobs = new Map<string, Job<P>>();
  private readonly waiting: Job<P>[] = [];
  private readonly resuming = new Set<string>();
  private readonly saves = new Map<string, Promise<void>>();
  private running: { job: Job<P>; abort: AbortController; done: Promise<void> } | null = null;
  private stopping = false;
  /** While restoring: nothing starts until the order is settled. */
  private holding = false;
  private readonly saveTimer: NodeJS.Timeout;
  /** created_at is strictly increasing, so the saved order is the submission order. */
  private lastCreatedMs = 0;

  constructor(
    private readonly runner: JobRunner<P>,
    private readonly opts: JobQueueOptions<P>,
  ) {
    this.saveTimer = setInterval(() => this.running && this.save(this.running.job), opts.saveEveryMs ?? 2000);
    this.saveTimer.unref();
  }

  submit(model: string, params: P, steps: number, extra: { retry_of?: string } = {}): Job<P> {
    if (this.stopping) throw new QueueFullError('the service is stopping');
    if (this.running && this.waiting.length >= this.opts.maxQueued) {
      throw new QueueFullError(`${this.waiting.length} jobs are already waiting`);
    }
    const job = newJob({ id: randomUUID(), model, params, runner: this.opts.runner, steps, created_at: this.createdAt(), retry_of: extra.retry_of ?? null });
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    this.changed(job);
    this.startNext();
    return job;
  }

  /**
   * Takes back the jobs of an earlier process (oldest first): finished ones as history,
   * queued ones in the queue, running ones resumed first when `canResume` says their run goes
   * on elsewhere, otherwise interrupted.
   */
  restore(saved: Job<P>[], canResume: (job: Job<P>) => boolean): void {
    const ordered = [...saved].sort((a, b) => a.created_at.localeCompare(b.created_at));
    const resumed: Job<P>[] = [];
    this.holding = true;
    for (const job of ordered) {
      if (this.jobs.has(job.id)) continue;
      this.lastCreatedMs = Math.max(this.lastCreatedMs, Date.parse(job.created_at) || 0);
      this.jobs.set(job.id, job);
      if (job.state === 'queued' && canResume(job)) {
        // A run may have started before its record said so: follow it rather than start another.
        resumed.push(job);
      } else if (job.state === 'queued') {
        this.waiting.push(job);
      } else if (job.state === 'running') {
        if (canResume(job)) resumed.push(job);
        else this.finish(job, 'interrupted', null, INTERRUPTED_BY_CRASH);
      }
    }
    for (const job of resumed.reverse()) {
      this.resuming.add(job.id);
      this.waiting.unshift(job);
    }
    this.holding = false;
    this.prune();
    this.startNext();
  }

  private createdAt(): string {
    this.lastCreatedMs = Math.max(Date.now(), this.lastCreatedMs + 1);
    return new Date(this.lastCreatedMs).toISOString();
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
    if (!job || FINISHED_STATES.has(job.state)) return false;
    if (this.running?.job === job) {
      this.running.abort.abort();
      return true;
    }
    this.waiting.splice(this.waiting.indexOf(job), 1);
    this.resuming.delete(job.id);
    this.finish(job, 'cancelled', null, 'cancelled before it started');
    return true;
  }

  /**
   * Stops for a restart: queued jobs stay queued, the running one is stopped in this process
   * (interrupted) or left to run where it runs (a Kubernetes Job is never deleted here);
   * resolves once every record is saved.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.saveTimer);
    const current = this.running;
    if (current) {
      current.abort.abort(new QueueShutdown());
      await current.done;
    }
    await Promise.all([...this.saves.values()]);
  }

  private startNext(): void {
    if (this.running || this.stopping || this.holding) return;
    const job = this.waiting.shift();
    if (!job) return;
    const resumed = this.resuming.delete(job.id);
    const abort = new AbortController();
    job.state = 'running';
    job.started_at ??= new Date().toISOString();
    this.changed(job);
    const done = this.runner(job, abort.signal, resumed).then(
      (result) => this.finish(job, 'succeeded', result, null),
      (err: Error) => {
        if (abort.signal.reason instanceof QueueShutdown) {
          if (err instanceof RunDetachedError) {
            // Still running elsewhere: the record stays "running" for the next process.
            this.running = null;
            this.save(job);
          } else {
            this.finish(job, 'interrupted', null, INTERRUPTED_BY_SHUTDOWN);
          }
        } else if (err instanceof TrainingCancelledError || abort.signal.aborted) {
          this.finish(job, 'cancelled', null, 'cancelled while running');
        } else {
          this.finish(job, 'failed', null, err.message);
        }
      },
    );
    this.running = { job, abort, done };
  }

  private finish(job: Job<P>, state: JobState, result: JobResult | null, error: string | null): void {
    job.state = state;
    job.result = result;
    job.error = state === 'failed' || state === 'interrupted' ? error : null;
    job.phase = state === 'cancelled' ? error : null;
    job.eta_seconds = null;
    job.finished_at = new Date().toISOString();
    if (this.running?.job === job) this.running = null;
    this.changed(job);
    this.prune();
    this.startNext();
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => FINISHED_STATES.has(j.state));
    for (const j of finished.slice(0, Math.max(0, finished.length - this.opts.keepFinished))) {
      this.jobs.delete(j.id);
      const records = this.opts.records;
      if (records) this.chain(j, () => records.remove(j.id));
    }
  }

  /** Saves are chained per job, so an older snapshot never lands after a newer one. */
  private chain(job: Job<P>, write: () => Promise<void>): void {
    const next = (this.saves.get(job.id) ?? Promise.resolve()).then(write).catch((err: Error) => this.opts.onSaveError?.(job, err));
    this.saves.set(job.id, next);
    void next.then(() => {
      if (this.saves.get(job.id) === next) this.saves.delete(job.id);
    });
  }

  private save(job: Job<P>): void {
    const records = this.opts.records;
    if (records) this.chain(job, () => records.save(job));
  }

  private changed(job: Job<P>): void {
    this.save(job);
    this.opts.onStateChange?.(job);
  }
}

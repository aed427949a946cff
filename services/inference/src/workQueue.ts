/**
 * Admission control: at most `concurrency` jobs run, at most `capacity` wait; anything
 * beyond is refused at once (the caller answers 503 + Retry-After) instead of piling up.
 * A waiting job whose signal aborts (its client went away) leaves the queue unrun.
 */
export class QueueFullError extends Error {
  constructor(readonly waiting: number) {
    super(`the inference queue is full (${waiting} waiting)`);
  }
}

export class JobCancelledError extends Error {
  constructor() {
    super('the client went away before its turn');
  }
}

export class WorkQueue {
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  /** Jobs dropped from the queue because their client went away. */
  cancelled = 0;

  constructor(
    private readonly concurrency: number,
    private readonly capacity: number,
  ) {}

  get depth(): number {
    return this.waiters.length;
  }
  get active(): number {
    return this.running;
  }

  /** Runs job when a slot is free; resolves with its result and the time spent waiting. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<{ result: T; waitedMs: number }> {
    const queuedAt = performance.now();
    if (signal?.aborted) throw new JobCancelledError();
    if (this.running >= this.concurrency) {
      if (this.waiters.length >= this.capacity) throw new QueueFullError(this.waiters.length);
      await new Promise<void>((resolve, reject) => {
        const waiter = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.cancelled++;
          reject(new JobCancelledError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(waiter);
      });
    } else {
      this.running++;
    }
    const waitedMs = performance.now() - queuedAt;
    try {
      if (signal) {
        // A run holds the event loop, so a client that left meanwhile is only seen once
        // pending socket events are read. Those are polled in the loop's next turn; one
        // setImmediate can fire before that poll (when the slot was handed over from an I/O
        // callback), the second comes after it.
        await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
        if (signal.aborted) {
          this.cancelled++;
          throw new JobCancelledError();
        }
      }
      return { result: await job(), waitedMs };
    } finally {
      const next = this.waiters.shift();
      if (next) next(); // hand the slot over without releasing it
      else this.running--;
    }
  }
}

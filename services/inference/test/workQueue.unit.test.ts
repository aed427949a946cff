/** The inference admission policy: how many run, how many wait, in which order, and who is dropped. */
import { describe, expect, it } from 'vitest';
import { JobCancelledError, QueueFullError, WorkQueue } from '../src/workQueue.ts';

/** A job that runs until released, recording when it started. */
function heldJob(log: string[], name: string) {
  let release!: (v: string) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return {
    job: () => {
      log.push(name);
      return done;
    },
    release: () => release(name),
    fail: (e: Error) => fail(e),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('work queue', () => {
  it('runs `concurrency` jobs at once, queues `capacity` more and refuses the next at once', async () => {
    const q = new WorkQueue(2, 1);
    const log: string[] = [];
    const [a, b, c] = [heldJob(log, 'a'), heldJob(log, 'b'), heldJob(log, 'c')];
    const runs = [q.run(a.job), q.run(b.job), q.run(c.job)];
    await tick();
    expect([q.active, q.depth]).toEqual([2, 1]);
    expect(log).toEqual(['a', 'b']);
    const refused = q.run(async () => 'd');
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toThrow('the inference queue is full (1 waiting)');
    a.release();
    await tick();
    expect(log).toEqual(['a', 'b', 'c']);
    // The slot was handed over: still two running, nobody waiting.
    expect([q.active, q.depth]).toEqual([2, 0]);
    b.release();
    c.release();
    expect((await Promise.all(runs)).map((r) => r.result)).toEqual(['a', 'b', 'c']);
    expect([q.active, q.depth]).toEqual([0, 0]);
  });

  it('with no room to wait (capacity 0) refuses anything beyond the running jobs', async () => {
    const q = new WorkQueue(1, 0);
    const a = heldJob([], 'a');
    const first = q.run(a.job);
    await expect(q.run(async () => 'b')).rejects.toBeInstanceOf(QueueFullError);
    a.release();
    await first;
    // Once free, the next one runs.
    expect((await q.run(async () => 'c')).result).toBe('c');
  });

  it('starts waiting jobs in arrival order', async () => {
    const q = new WorkQueue(1, 10);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd', 'e'].map((n) => heldJob(log, n));
    const runs = jobs.map((j) => q.run(j.job));
    for (const j of jobs) {
      await tick();
      j.release();
      await tick();
    }
    await Promise.all(runs);
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a waiting job whose client leaves is dropped unrun, and the one behind it takes its place', async () => {
    const q = new WorkQueue(1, 5);
    const log: string[] = [];
    const [a, b, c] = [heldJob(log, 'a'), heldJob(log, 'b'), heldJob(log, 'c')];
    const gone = new AbortController();
    const ra = q.run(a.job);
    const rb = q.run(b.job, gone.signal);
    const rc = q.run(c.job);
    expect(q.depth).toBe(2);
    gone.abort();
    await expect(rb).rejects.toBeInstanceOf(JobCancelledError);
    expect([q.depth, q.cancelled]).toEqual([1, 1]);
    a.release();
    await ra;
    await tick();
    expect(log).toEqual(['a', 'c']);
    c.release();
    await rc;
    expect([q.active, q.depth]).toEqual([0, 0]);
  });

  it('a client that left before its turn came, or as it came, is not run and frees its slot', async () => {
    const q = new WorkQueue(1, 5);
    const log: string[] = [];
    const left = new AbortController();
    left.abort();
    await expect(q.run(heldJob(log, 'early').job, left.signal)).rejects.toBeInstanceOf(JobCancelledError);
    // Admitted to a free slot, then gone before the run starts (its socket event is read first).
    const leaving = new AbortController();
    const r = q.run(heldJob(log, 'late').job, leaving.signal);
    leaving.abort();
    await expect(r).rejects.toBeInstanceOf(JobCancelledError);
    expect(log).toEqual([]);
    expect([q.active, q.cancelled]).toEqual([0, 1]);
    expect((await q.run(async () => 'next')).result).toBe('next');
  });

  it('a failed job frees its slot for the next one and reports its own error', async () => {
    const q = new WorkQueue(1, 1);
    const log: string[] = [];
    const [a, b] = [heldJob(log, 'a'), heldJob(log, 'b')];
    const ra = q.run(a.job);
    const rb = q.run(b.job);
    a.fail(new Error('boom'));
    await expect(ra).rejects.toThrow('boom');
    await tick();
    expect(log).toEqual(['a', 'b']);
    b.release();
    const done = await rb;
    expect(done.result).toBe('b');
    expect(done.waitedMs).toBeGreaterThanOrEqual(0);
    expect(q.active).toBe(0);
  });
});

/**
 * The file backend, the embedded default: everything on the storage volume.
 *   feedback.jsonl                  one JSON line per rating (a newer rating of the same output
 *                                   by the same client is appended and wins when read)
 *   requests.jsonl                  one JSON line per served request
 *   models/<model>/routing.json     the routing policy, replaced atomically
 *   models/<model>/history.jsonl    every release change
 *   models/<model>/.release.lock    held while a release change runs (any process)
 *   finetune-jobs/<id>.json         one training-job record, replaced atomically
 * Counts are folded incrementally from the logs: each call reads only the lines added since.
 * Appends are atomic on a local disk; several replicas on a network volume want PostgreSQL.
 */
import { createReadStream } from 'node:fs';
import { access, constants, mkdir, open, readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { LineAppender, writeFileAtomic } from '../atomicFile.ts';
import { parseJsonLines } from '../jsonl.ts';
import { FileJobRecords } from './fileJobRecords.ts';
import { NO_CANARY, routingPolicySchema, type HistoryEntry, type RoutingPolicy } from '../routingPolicy.ts';
import {
  feedbackEntrySchema,
  hourOf,
  ratingKey,
  type FeedbackEntry,
  type JobRecord,
  type JobRecords,
  type ParseJobRecord,
  type PlatformStore,
  type ReleaseWriter,
  type ServedRequest,
  type StoreHealth,
  type UnreadableJobRecord,
  type VersionCounts,
} from './types.ts';

// A write past a file size limit (RLIMIT_FSIZE) must fail with EFBIG like a full disk, not
// end the process: signal-exit (under proper-lockfile) re-raises SIGXFSZ unless someone listens.
process.on('SIGXFSZ', () => undefined);

/** How long a failed append keeps the store reported as not writable (unless one succeeds). */
const FAILURE_WINDOW_MS = 30_000;

interface LoggedLine {
  model?: string;
  version?: string;
  feedback?: string;
  timestamp?: string;
  received_at?: string;
  at?: string;
  output_image_filename?: string;
  client_id?: string;
}

/** Reads the complete lines appended since the last call. */
export class JsonlTail {
  private offset = 0;
  constructor(readonly file: string) {}

  /** `restarted`: the file shrank (replaced or cut), so everything read before is void. */
  async read(): Promise<{ lines: LoggedLine[]; restarted: boolean }> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    const restarted = size < this.offset;
    if (restarted) this.offset = 0;
    if (size === this.offset) return { lines: [], restarted };
    const handle = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buf, 0, buf.length, this.offset);
      // Up to the last newline only: a line still being written (or torn) is read next time.
      const end = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (end < 0) return { lines: [], restarted };
      this.offset += end + 1;
      return { lines: parseJsonLines<LoggedLine>(buf.subarray(0, end + 1).toString('utf8')), restarted };
    } finally {
      await handle.close();
    }
  }

  reset(): void {
    this.offset = 0;
  }
}

interface Counted extends VersionCounts {
  /** Counting ratings per client id (ratings without one each count as their own rater). */
  clients: Map<string, number>;
  anonymous: number;
  /** The same, for bad ratings only. */
  badClients: Map<string, number>;
  anonymousBad: number;
}

interface Rating {
  model: string;
  version: string;
  rating: 'good' | 'bad';
  hour: string | null;
  client: string | null;
}

export class FileStore implements PlatformStore {
  readonly backend = 'file' as const;
  readonly feedbackFile: string;
  readonly requestsFile: string;
  private readonly feedbackLog: LineAppender;
  private readonly requestLog: LineAppender;
  private readonly historyLogs = new Map<string, LineAppender>();
  private readonly policyCache = new Map<string, { mtime: number; policy: RoutingPolicy }>();
  private readonly feedbackTail: JsonlTail;
  private readonly requestsTail: JsonlTail;
  private readonly counts = new Map<string, Map<string, Counted>>();
  private readonly ratings = new Map<string, Rating>();
  private refreshing: Promise<void> = Promise.resolve();
  private feedbackQueue: Promise<unknown> = Promise.resolve();
  private readonly releaseQueues = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {
    this.feedbackFile = path.join(root, 'feedback.jsonl');
    this.requestsFile = path.join(root, 'requests.jsonl');
    this.feedbackLog = new LineAppender(this.feedbackFile);
    this.requestLog = new LineAppender(this.requestsFile);
    this.feedbackTail = new JsonlTail(this.feedbackFile);
    this.requestsTail = new JsonlTail(this.requestsFile);
  }

  private modelDir(model: string): string {
    return path.join(this.root, 'models', model);
  }
  policyPath(model: string): string {
    return path.join(this.modelDir(model), 'routing.json');
  }
  historyPath(model: string): string {
    return path.join(this.modelDir(model), 'history.jsonl');
  }

  addFeedback(entry: FeedbackEntry): Promise<{ replaced: boolean }> {
    const line = JSON.stringify(feedbackEntrySchema.parse(entry));
    // Serialised with the fold, so `replaced` is decided against every earlier line.
    const next = this.feedbackQueue.then(async () => {
      await this.refresh();
      const key = ratingKey(entry);
      const replaced = key !== null && this.ratings.has(key);
      await this.feedbackLog.append(line);
      return { replaced };
    });
    this.feedbackQueue = next.catch(() => undefined);
    return next;
  }

  /**
   * Streams the file twice up to its size when the export began: once to find each rating's
   * last line, once to yield the lines that count. Memory grows with the keys, not the file.
   */
  async *feedback(): AsyncIterable<FeedbackEntry> {
    const size = await stat(this.feedbackFile).then(
      (s) => s.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 0;
        throw err;
      },
    );
    if (size === 0) return;
    const entries = async function* (file: string) {
      const lines = createInterface({ input: createReadStream(file, { start: 0, end: size - 1 }), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line.trim()) continue;
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          continue; // a torn or foreign line: not a rating
        }
        const parsed = feedbackEntrySchema.safeParse(raw);
        if (parsed.success) yield parsed.data;
      }
    };
    const last = new Map<string, number>();
    let i = 0;
    for await (const e of entries(this.feedbackFile)) {
      const key = ratingKey(e);
      if (key) last.set(key, i);
      i++;
    }
    i = 0;
    for await (const e of entries(this.feedbackFile)) {
      const key = ratingKey(e);
      if (key === null || last.get(key) === i) yield e;
      i++;
    }
  }

  async recordRequest(r: ServedRequest): Promise<void> {
    await this.requestLog.append(JSON.stringify(r));
  }

  async versionCounts(model: string): Promise<VersionCounts[]> {
    await this.refresh();
    return [...(this.counts.get(model)?.values() ?? [])].map(({ clients, anonymous, badClients, anonymousBad, ...c }) => ({
      ...c,
      hourly: new Map(c.hourly),
      raters: clients.size + anonymous,
      badRaters: badClients.size + anonymousBad,
    }));
  }

  private entry(model: string, version: string): Counted {
    let m = this.counts.get(model);
    if (!m) this.counts.set(model, (m = new Map()));
    let v = m.get(version);
    if (!v) m.set(version, (v = { version, requests: 0, good: 0, bad: 0, raters: 0, badRaters: 0, since: null, hourly: new Map(), clients: new Map(), anonymous: 0, badClients: new Map(), anonymousBad: 0 }));
    return v;
  }

  private static countRater(clients: Map<string, number>, client: string | null, sign: 1 | -1, anonymous: () => void): void {
    if (client === null) return void anonymous();
    const n = (clients.get(client) ?? 0) + sign;
    if (n > 0) clients.set(client, n);
    else clients.delete(client);
  }

  private static note(v: Counted, at: string | undefined | null): void {
    if (at && (!v.since || at < v.since)) v.since = at;
  }

  private apply(r: Rating, sign: 1 | -1): void {
    const v = this.entry(r.model, r.version);
    v[r.rating] += sign;
    if (r.hour) {
      const h = v.hourly.get(r.hour) ?? [0, 0];
      h[r.rating === 'good' ? 0 : 1] += sign;
      if (h[0] === 0 && h[1] === 0) v.hourly.delete(r.hour);
      else v.hourly.set(r.hour, h);
    }
    FileStore.countRater(v.clients, r.client, sign, () => (v.anonymous += sign));
    if (r.rating === 'bad') FileStore.countRater(v.badClients, r.client, sign, () => (v.anonymousBad += sign));
  }

  /** Folds in new lines; concurrent callers share one pass so no line is counted twice. */
  private refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(
      () => this.readNew(),
      () => this.readNew(),
    );
    return this.refreshing;
  }

  private async readNew(): Promise<void> {
    let [requests, feedback] = await Promise.all([this.requestsTail.read(), this.feedbackTail.read()]);
    if (requests.restarted || feedback.restarted) {
      // A log was replaced or cut: count everything again from the start.
      this.counts.clear();
      this.ratings.clear();
      this.requestsTail.reset();
      this.feedbackTail.reset();
      [requests, feedback] = await Promise.all([this.requestsTail.read(), this.feedbackTail.read()]);
    }
    for (const r of requests.lines) {
      if (!r.model || !r.version) continue;
      const v = this.entry(r.model, r.version);
      v.requests++;
      FileStore.note(v, r.at);
    }
    for (const f of feedback.lines) {
      if (!f.model || !f.version || (f.feedback !== 'good' && f.feedback !== 'bad')) continue;
      const at = f.received_at ?? f.timestamp;
      const rating: Rating = { model: f.model, version: f.version, rating: f.feedback, hour: at ? hourOf(at) : null, client: f.client_id ?? null };
      const key = f.output_image_filename ? ratingKey({ output_image_filename: f.output_image_filename, client_id: f.client_id }) : null;
      if (key) {
        const previous = this.ratings.get(key);
        if (previous) this.apply(previous, -1);
        this.ratings.set(key, rating);
      }
      this.apply(rating, 1);
      FileStore.note(this.entry(f.model, f.version), at);
    }
  }

  /** The current policy; cached by file mtime, so a change by any process is seen at once. */
  async policy(model: string): Promise<RoutingPolicy> {
    const file = this.policyPath(model);
    const mtime = await stat(file).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtime === 0) return NO_CANARY;
    const hit = this.policyCache.get(model);
    if (hit && hit.mtime === mtime) return hit.policy;
    const text = await readFile(file, 'utf8').catch(() => null);
    let policy = NO_CANARY;
    try {
      const parsed = text === null ? null : routingPolicySchema.safeParse(JSON.parse(text));
      if (parsed?.success) policy = parsed.data;
    } catch {
      // a damaged policy file routes everything to the live version
    }
    this.policyCache.set(model, { mtime, policy });
    return policy;
  }

  async history(model: string): Promise<HistoryEntry[]> {
    const text = await readFile(this.historyPath(model), 'utf8').catch(() => '');
    return parseJsonLines<HistoryEntry>(text);
  }

  private historyLog(model: string): LineAppender {
    let a = this.historyLogs.get(model);
    if (!a) this.historyLogs.set(model, (a = new LineAppender(this.historyPath(model))));
    return a;
  }

  withReleaseLock<T>(model: string, fn: (w: ReleaseWriter) => Promise<T>): Promise<T> {
    // In-process queue first, so this process never contends with itself for the lock file.
    const run = async () => {
      const dir = this.modelDir(model);
      await mkdir(dir, { recursive: true });
      const release = await lockfile.lock(dir, {
        lockfilePath: path.join(dir, '.release.lock'),
        realpath: false,
        stale: 10_000,
        retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 200 },
      });
      try {
        return await fn({
          policy: async () => {
            this.policyCache.delete(model);
            return this.policy(model);
          },
          setPolicy: async (p) => {
            await writeFileAtomic(this.policyPath(model), `${JSON.stringify(routingPolicySchema.parse(p), null, 2)}\n`);
            this.policyCache.delete(model);
          },
          record: (e) => this.historyLog(model).append(JSON.stringify(e)),
        });
      } finally {
        await release();
      }
    };
    const prev = this.releaseQueues.get(model) ?? Promise.resolve();
    const next = prev.then(run, run);
    this.releaseQueues.set(
      model,
      next.catch(() => undefined),
    );
    return next;
  }

  jobRecords<J extends JobRecord>(parse: ParseJobRecord<J>, onUnreadable?: UnreadableJobRecord): JobRecords<J> {
    return new FileJobRecords(this.root, parse, onUnreadable);
  }

  async health(): Promise<StoreHealth> {
    const writable = await access(this.root, constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!writable) return { ok: false, backend: 'file', detail: `${this.root} is not writable` };
    for (const log of [this.feedbackLog, this.requestLog]) {
      if (log.lastFailureAt !== null && Date.now() - log.lastFailureAt < FAILURE_WINDOW_MS) {
        return { ok: false, backend: 'file', detail: `the last append to ${path.basename(log.file)} failed` };
      }
    }
    return { ok: true, backend: 'file' };
  }

  async close(): Promise<void> {
    await Promise.all([this.feedbackQueue, this.refreshing].map((p) => p.catch(() => undefined)));
  }
}

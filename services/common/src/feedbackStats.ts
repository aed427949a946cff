/**
 * Per-version counts of served requests and ratings, read incrementally from the
 * append-only logs (requests.jsonl, feedback.jsonl): each call reads only new lines.
 */
import { open, stat } from 'node:fs/promises';
import { parseJsonLines } from './jsonl.ts';

export interface VersionCounts {
  version: string;
  requests: number;
  good: number;
  bad: number;
  /** ISO time of the first request or rating seen for this version. */
  since: string | null;
  /** Ratings per hour: [hourStartIso, good, bad]. */
  hourly: Map<string, [number, number]>;
  /** Distinct clients that rated this version, and those that rated it bad. */
  raters: Set<string>;
  badRaters: Set<string>;
}

export interface RatedLine {
  model?: string;
  version?: string;
  feedback?: 'good' | 'bad';
  timestamp?: string;
  received_at?: string;
  at?: string;
  client_id?: string;
  output_image_filename?: string;
}

/** Reads complete lines appended since the last call. */
export class JsonlTail {
  private offset = 0;
  private carry = '';
  constructor(readonly file: string) {}

  async read(): Promise<RatedLine[]> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size < this.offset) {
      this.offset = 0; // truncated or replaced: start over
      this.carry = '';
    }
    if (size === this.offset) return [];
    const handle = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      await handle.read(buf, 0, buf.length, this.offset);
      this.offset = size;
      const text = this.carry + buf.toString('utf8');
      const end = text.lastIndexOf('\n');
      this.carry = text.slice(end + 1);
      return parseJsonLines<RatedLine>(text.slice(0, end + 1));
    } finally {
      await handle.close();
    }
  }
}

export class FeedbackStats {
  private readonly counts = new Map<string, Map<string, VersionCounts>>();
  private readonly feedback: JsonlTail;
  private readonly requests: JsonlTail;

  constructor(feedbackFile: string, requestsFile: string) {
    this.feedback = new JsonlTail(feedbackFile);
    this.requests = new JsonlTail(requestsFile);
  }

  private entry(model: string, version: string): VersionCounts {
    let m = this.counts.get(model);
    if (!m) this.counts.set(model, (m = new Map()));
    let v = m.get(version);
    if (!v) m.set(version, (v = { version, requests: 0, good: 0, bad: 0, since: null, hourly: new Map(), raters: new Set(), badRaters: new Set() }));
    return v;
  }

  private static note(v: VersionCounts, at: string | undefined): void {
    if (at && (!v.since || at < v.since)) v.since = at;
  }

  private refreshing: Promise<void> = Promise.resolve();

  /** Folds in new lines; concurrent callers share one pass so no line is counted twice. */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(
      () => this.readNew(),
      () => this.readNew(),
    );
    return this.refreshing;
  }

  private async readNew(): Promise<void> {
    for (const r of await this.requests.read()) {
      if (!r.model || !r.version) continue;
      const v = this.entry(r.model, r.version);
      v.requests++;
      FeedbackStats.note(v, r.at);
    }
    for (const f of await this.feedback.read()) {
      if (!f.model || !f.version || (f.feedback !== 'good' && f.feedback !== 'bad')) continue;
      const v = this.entry(f.model, f.version);
      v[f.feedback]++;
      // A rating without a client (written before clients were recorded) counts as its own rater.
      const rater = f.client_id ?? `line:${f.output_image_filename ?? ''}:${f.received_at ?? ''}`;
      v.raters.add(rater);
      if (f.feedback === 'bad') v.badRaters.add(rater);
      const at = f.received_at ?? f.timestamp;
      FeedbackStats.note(v, at);
      if (at) {
        const hour = `${at.slice(0, 13)}:00:00.000Z`;
        const h = v.hourly.get(hour) ?? [0, 0];
        h[f.feedback === 'good' ? 0 : 1]++;
        v.hourly.set(hour, h);
      }
    }
  }

  async forModel(model: string): Promise<VersionCounts[]> {
    await this.refresh();
    return [...(this.counts.get(model)?.values() ?? [])];
  }
}

/** Wilson score interval for a binomial proportion (95% by default). */
export function wilsonInterval(successes: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * The feedback gate: should a model be fine-tuned again? Counts the `bad` ratings its live
 * version received since it went live, and says "retrain" when the count exceeds a threshold.
 * Used by the NST_App pipeline (scripts/pipeline/feedback-gate.ts) and reusable by the platform.
 *
 * Two sources give the same answer:
 *   - the gateway's GET /api/models/:model/stats ({ model, live_version, versions: [{ version, bad, since, … }] })
 *   - the shared volume: feedback.jsonl (one JSON object per rating) and the model store.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseJsonLines } from './jsonl.ts';
import { ModelStore } from './modelStore.ts';
import { ratingKey } from './store/types.ts';
import { feedbackEntrySchema, type FeedbackEntry, type ModelStats, type VersionStats } from '@nst/contracts';

export const DEFAULT_BAD_FEEDBACK_THRESHOLD = 5;

export interface GateDecision {
  model: string;
  live_version: string | null;
  /** When the live version went live (ISO), if known: only ratings from then on count. */
  since: string | null;
  bad: number;
  threshold: number;
  /** Distinct clients behind the bad ratings, when known, and how many are required. */
  bad_raters?: number;
  min_raters?: number;
  /** True when `bad` exceeds `threshold` (and enough distinct clients rated bad). */
  trigger: boolean;
  source: 'stats' | 'store';
}

/**
 * What the gate reads of the gateway's per-model statistics (GET /api/models/:model/stats):
 * the live version and, per version, its bad ratings and since when they count.
 */
export type GateStats = Pick<ModelStats, 'model' | 'live_version'> & {
  versions: (Pick<VersionStats, 'version' | 'bad'> & Partial<Pick<VersionStats, 'bad_raters' | 'since'>>)[];
};

/** Parses feedback.jsonl text; blank, malformed and foreign lines are skipped (a half-written last line included). */
export const parseFeedbackLines = (text: string): FeedbackEntry[] =>
  parseJsonLines(text).flatMap((line) => {
    const r = feedbackEntrySchema.safeParse(line);
    return r.success ? [r.data] : [];
  });

function recordTime(r: FeedbackEntry): number | null {
  const t = Date.parse(r.received_at ?? r.timestamp);
  return Number.isNaN(t) ? null : t;
}

/**
 * `bad` ratings for `model`'s `liveVersion`; with `since`, only those received at or after it
 * (a line without a usable time is counted: it was rated for that version).
 */
export function countBadFeedback(records: Iterable<FeedbackEntry>, model: string, liveVersion: string, since?: Date | null): number {
  const from = since ? since.getTime() : null;
  let n = 0;
  for (const r of records) {
    if (r.feedback !== 'bad' || r.model !== model || r.version !== liveVersion) continue;
    const t = recordTime(r);
    if (from !== null && t !== null && t < from) continue;
    n++;
  }
  return n;
}

/** The ratings that count: of several by one client for one output, only the last. */
export function latestRatings<R extends FeedbackEntry>(records: R[]): R[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => {
    const key = r.output_image_filename ? ratingKey({ output_image_filename: r.output_image_filename, client_id: r.client_id }) : null;
    if (key) last.set(key, i);
  });
  return records.filter((r, i) => {
    const key = r.output_image_filename ? ratingKey({ output_image_filename: r.output_image_filename, client_id: r.client_id }) : null;
    return key === null || last.get(key) === i;
  });
}

export function checkThreshold(threshold: number): number {
  if (!Number.isInteger(threshold) || threshold < 0) throw new RangeError(`threshold must be a whole number ≥ 0, got ${threshold}`);
  return threshold;
}

/**
 * The decision from the gateway's statistics. With `minRaters`, the bad ratings must also
 * come from at least that many distinct clients: one client's streak never retrains a model.
 */
export function gateFromStats(stats: GateStats, threshold = DEFAULT_BAD_FEEDBACK_THRESHOLD, minRaters = 1): GateDecision {
  checkThreshold(threshold);
  const live = stats.live_version;
  const entry = live ? stats.versions.find((v) => v.version === live) : undefined;
  const bad = entry?.bad ?? 0;
  const badRaters = entry?.bad_raters ?? bad;
  const trigger = live !== null && bad > threshold && badRaters >= minRaters;
  return { model: stats.model, live_version: live, since: entry?.since ?? null, bad, threshold, bad_raters: badRaters, min_raters: minRaters, trigger, source: 'stats' };
}

/**
 * The decision from the shared volume: the live version from the model store, the time it went
 * live from latest.txt's modification time, and the ratings from feedback.jsonl.
 */
export async function gateFromStore(
  storageDir: string,
  model: string,
  threshold = DEFAULT_BAD_FEEDBACK_THRESHOLD,
  feedbackFile = path.join(storageDir, 'feedback.jsonl'),
): Promise<GateDecision> {
  checkThreshold(threshold);
  const store = new ModelStore(storageDir);
  const live = await store.latest(model);
  if (!live) return { model, live_version: null, since: null, bad: 0, threshold, trigger: false, source: 'store' };
  const mtime = await store.latestMtime(model);
  const since = mtime > 0 ? new Date(mtime) : null;
  const text = await readFile(feedbackFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const bad = countBadFeedback(latestRatings(parseFeedbackLines(text)), model, live, since);
  return { model, live_version: live, since: since?.toISOString() ?? null, bad, threshold, trigger: bad > threshold, source: 'store' };
}

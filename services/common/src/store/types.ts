/**
 * The platform's shared state behind one interface: ratings, served requests, each model's
 * routing policy, its release history and the fine-tuning service's job records. Two backends keep it: files on the shared volume
 * (the embedded default) and PostgreSQL (NST_DATABASE_URL), for several replicas.
 * The live version itself stays in models/<model>/latest.txt, which inference follows;
 * only the release owner (release.ts) changes it, under `withReleaseLock`.
 */
import type { FeedbackEntry, HistoryEntry, RoutingPolicy, ServedRequest, StoreHealth, JobRecord as FinetuneJobRecord } from '@nst/contracts';

export { feedbackEntrySchema, type FeedbackEntry, type ServedRequest, type StoreHealth } from '@nst/contracts';

export interface VersionCounts {
  version: string;
  requests: number;
  good: number;
  bad: number;
  /** Distinct clients whose rating of this version counts. */
  raters: number;
  /** Distinct clients whose bad rating of this version counts. */
  badRaters: number;
  /** ISO time of the first request or rating seen for this version. */
  since: string | null;
  /** Ratings per hour: [hourStartIso, good, bad]. */
  hourly: Map<string, [number, number]>;
}

/** What a release change may write, inside the model's lock (one transaction in PostgreSQL). */
export interface ReleaseWriter {
  policy(): Promise<RoutingPolicy>;
  setPolicy(policy: RoutingPolicy): Promise<void>;
  record(entry: HistoryEntry): Promise<void>;
}

/** What the store needs of a training-job record (@nst/contracts); the rest is the caller's, kept as given. */
export type JobRecord = Pick<FinetuneJobRecord, 'id' | 'model'> & { state: string };

/** Checks a record read back: throws on anything it does not trust (torn, foreign, outdated). */
export type ParseJobRecord<J> = (value: unknown) => J;
/** Told about a record `parse` refused (`where`: its file, or its row); the record is skipped. */
export type UnreadableJobRecord = (where: string, err: Error) => void;

/** The saved training jobs, so a restart (or another replica) finds them. */
export interface JobRecords<J extends JobRecord> {
  /** Stores the whole record, replacing the one with the same id. */
  save(job: J): Promise<void>;
  get(id: string): Promise<J | null>;
  list(): Promise<J[]>;
  remove(id: string): Promise<void>;
}

/** Job ids are UUIDs; anything else is refused rather than turned into a path or a key. */
const SAFE_JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const isSafeJobId = (id: string) => SAFE_JOB_ID.test(id);
export function checkJobId(id: string): string {
  if (!isSafeJobId(id)) throw new Error(`unusable job id ${JSON.stringify(id)}`);
  return id;
}

export interface PlatformStore {
  readonly backend: 'file' | 'postgres';
  /** Records a rating; an earlier rating of the same output by the same client is replaced. */
  addFeedback(entry: FeedbackEntry): Promise<{ replaced: boolean }>;
  /** Every rating that counts, oldest first, in the JSON Lines shape. */
  feedback(): AsyncIterable<FeedbackEntry>;
  recordRequest(r: ServedRequest): Promise<void>;
  /** Requests and ratings per version of a model. */
  versionCounts(model: string): Promise<VersionCounts[]>;
  /** The model's routing policy as every replica sees it (at most a second old). */
  policy(model: string): Promise<RoutingPolicy>;
  history(model: string): Promise<HistoryEntry[]>;
  /**
   * Runs `fn` holding the model's release lock, which serialises changes across processes
   * (an advisory lock in PostgreSQL, a lock file next to the model in file mode).
   */
  withReleaseLock<T>(model: string, fn: (w: ReleaseWriter) => Promise<T>): Promise<T>;
  /**
   * Training-job records, each kept as the JSON it was saved as (the store reads only id, model
   * and state); `parse` checks every record read back, one it refuses is skipped.
   */
  jobRecords<J extends JobRecord>(parse: ParseJobRecord<J>, onUnreadable?: UnreadableJobRecord): JobRecords<J>;
  /** Can this replica read and write its store? */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}

/** The key that makes one rating per output and client. */
export const ratingKey = (e: { output_image_filename: string; client_id?: string }) => (e.client_id ? `${e.output_image_filename}\u0000${e.client_id}` : null);

export const hourOf = (iso: string) => `${iso.slice(0, 13)}:00:00.000Z`;

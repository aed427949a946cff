/**
 * The PostgreSQL backend (NST_DATABASE_URL): node-postgres pool, schema from the SQL files in
 * ./migrations applied by node-pg-migrate at start (under its advisory lock, so replicas
 * starting together migrate once). Counts are aggregated by SQL; a release change is one
 * transaction holding a per-model advisory lock; a training-job record is one jsonb row.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { NO_CANARY, type HistoryEntry, type RoutingPolicy } from '../routingPolicy.ts';
import {
  checkJobId,
  feedbackEntrySchema,
  isSafeJobId,
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

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));
const MIGRATIONS_TABLE = 'nst_migrations';
/** Replicas re-read the policy at least this often: an admin change is seen everywhere within a second. */
const POLICY_TTL_MS = 500;
const EXPORT_BATCH = 500;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

interface PolicyRow {
  candidate: string | null;
  percent: number;
  updated_at: Date;
  updated_by: string;
  reason: string | null;
}

function toPolicy(row: PolicyRow | undefined): RoutingPolicy {
  if (!row) return NO_CANARY;
  return { candidate: row.candidate, percent: row.percent, updated_at: iso(row.updated_at)!, updated_by: row.updated_by, ...(row.reason ? { reason: row.reason } : {}) };
}

async function readPolicy(db: pg.Pool | pg.PoolClient, model: string): Promise<RoutingPolicy> {
  const { rows } = await db.query<PolicyRow>('SELECT candidate, percent, updated_at, updated_by, reason FROM routing_policy WHERE model = $1', [model]);
  return toPolicy(rows[0]);
}

/** Applies every pending migration (idempotent; concurrent callers wait for one another on the migration lock). */
async function migrate(databaseUrl: string): Promise<void> {
  // Loaded only here: the migration tool is large and needed once per start.
  const { runner } = await import('node-pg-migrate');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await runner({ dbClient: client, dir: MIGRATIONS_DIR, direction: 'up', migrationsTable: MIGRATIONS_TABLE, log: () => undefined, checkOrder: true, advisoryLockMode: 'wait' });
  } finally {
    await client.end();
  }
}

/** Training-job records in `training_jobs`: an upsert per save, so the last save wins on every replica. */
class PgJobRecords<J extends JobRecord> implements JobRecords<J> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly parse: ParseJobRecord<J>,
    private readonly onUnreadable?: UnreadableJobRecord,
  ) {}

  async save(job: J): Promise<void> {
    await this.pool.query(
      `INSERT INTO training_jobs (id, model, state, record, updated_at) VALUES ($1, $2, $3, $4::jsonb, now())
       ON CONFLICT (id) DO UPDATE SET model = EXCLUDED.model, state = EXCLUDED.state, record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`,
      [checkJobId(job.id), job.model, job.state, JSON.stringify(job)],
    );
  }

  async get(id: string): Promise<J | null> {
    if (!isSafeJobId(id)) return null;
    const { rows } = await this.pool.query<{ id: string; record: unknown }>('SELECT id, record FROM training_jobs WHERE id = $1', [id]);
    return rows[0] ? this.read(rows[0]) : null;
  }

  async list(): Promise<J[]> {
    const { rows } = await this.pool.query<{ id: string; record: unknown }>('SELECT id, record FROM training_jobs ORDER BY updated_at, id');
    return rows.map((r) => this.read(r)).filter((j): j is J => j !== null);
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM training_jobs WHERE id = $1', [checkJobId(id)]);
  }

  private read(row: { id: string; record: unknown }): J | null {
    try {
      return this.parse(row.record);
    } catch (err) {
      this.onUnreadable?.(`training_jobs/${row.id}`, err as Error);
      return null;
    }
  }
}

export class PgStore implements PlatformStore {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly policyCache = new Map<string, { at: number; policy: Promise<RoutingPolicy> }>();

  constructor(databaseUrl: string, poolSize = 10) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
    // An idle client losing its connection (database restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  static async open(databaseUrl: string): Promise<PgStore> {
    await migrate(databaseUrl);
    return new PgStore(databaseUrl);
  }

  async addFeedback(e: FeedbackEntry): Promise<{ replaced: boolean }> {
    const v = feedbackEntrySchema.parse(e);
    // xmax is non-zero on a row the upsert updated rather than inserted.
    const { rows } = await this.pool.query<{ replaced: boolean }>(
      `INSERT INTO feedback (model, version, rating, content_image_filename, output_image_filename, client_id, rated_at, received_at, comment, request_id, strength, preserve_colors, style)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (output_image_filename, client_id) WHERE client_id <> '' DO UPDATE SET
         model = EXCLUDED.model, version = EXCLUDED.version, rating = EXCLUDED.rating, content_image_filename = EXCLUDED.content_image_filename,
         rated_at = EXCLUDED.rated_at, received_at = EXCLUDED.received_at, comment = EXCLUDED.comment, request_id = EXCLUDED.request_id,
         strength = EXCLUDED.strength, preserve_colors = EXCLUDED.preserve_colors, style = EXCLUDED.style
       RETURNING (xmax <> 0) AS replaced`,
      [
        v.model,
        v.version ?? '',
        v.feedback,
        v.content_image_filename,
        v.output_image_filename,
        v.client_id ?? '',
        v.timestamp,
        v.received_at ?? v.timestamp,
        v.comment ?? null,
        v.request_id ?? null,
        v.strength ?? null,
        v.preserve_colors ?? null,
        v.style ?? null,
      ],
    );
    return { replaced: rows[0]!.replaced };
  }

  async *feedback(): AsyncIterable<FeedbackEntry> {
    let after = 0;
    for (;;) {
      const { rows } = await this.pool.query<{
        id: string;
        model: string;
        version: string;
        rating: 'good' | 'bad';
        content_image_filename: string;
        output_image_filename: string;
        client_id: string;
        rated_at: Date;
        received_at: Date;
        comment: string | null;
        request_id: string | null;
        strength: number | null;
        preserve_colors: boolean | null;
        style: string | null;
      }>('SELECT * FROM feedback WHERE id > $1 ORDER BY id LIMIT $2', [after, EXPORT_BATCH]);
      for (const r of rows) {
        yield {
          feedback: r.rating,
          model: r.model,
          version: r.version,
          content_image_filename: r.content_image_filename,
          output_image_filename: r.output_image_filename,
          timestamp: iso(r.rated_at)!,
          received_at: iso(r.received_at)!,
          ...(r.comment ? { comment: r.comment } : {}),
          ...(r.request_id ? { request_id: r.request_id } : {}),
          ...(r.client_id ? { client_id: r.client_id } : {}),
          ...(r.strength !== null ? { strength: r.strength } : {}),
          ...(r.preserve_colors !== null ? { preserve_colors: r.preserve_colors } : {}),
          ...(r.style ? { style: r.style } : {}),
        };
      }
      if (rows.length < EXPORT_BATCH) return;
      after = Number(rows[rows.length - 1]!.id);
    }
  }

  async recordRequest(r: ServedRequest): Promise<void> {
    await this.pool.query('INSERT INTO served_requests (model, version, routing, at, strength, preserve_colors, style) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      r.model,
      r.version,
      r.routing,
      r.at,
      r.strength ?? null,
      r.preserve_colors ?? null,
      r.style ?? null,
    ]);
  }

  async versionCounts(model: string): Promise<VersionCounts[]> {
    const [requests, ratings, raters] = await Promise.all([
      this.pool.query<{ version: string; n: number; since: Date }>('SELECT version, count(*)::int AS n, min(at) AS since FROM served_requests WHERE model = $1 GROUP BY version', [model]),
      this.pool.query<{ version: string; rating: 'good' | 'bad'; hour: Date; n: number; since: Date }>(
        `SELECT version, rating, date_trunc('hour', received_at, 'UTC') AS hour, count(*)::int AS n, min(received_at) AS since
         FROM feedback WHERE model = $1 GROUP BY version, rating, hour`,
        [model],
      ),
      this.pool.query<{ version: string; n: number; bad: number }>(
        `SELECT version,
                (count(DISTINCT NULLIF(client_id, '')) + count(*) FILTER (WHERE client_id = ''))::int AS n,
                (count(DISTINCT NULLIF(client_id, '')) FILTER (WHERE rating = 'bad') + count(*) FILTER (WHERE client_id = '' AND rating = 'bad'))::int AS bad
         FROM feedback WHERE model = $1 GROUP BY version`,
        [model],
      ),
    ]);
    const out = new Map<string, VersionCounts>();
    const entry = (version: string) => {
      let v = out.get(version);
      if (!v) out.set(version, (v = { version, requests: 0, good: 0, bad: 0, raters: 0, badRaters: 0, since: null, hourly: new Map() }));
      return v;
    };
    const note = (v: VersionCounts, at: Date) => {
      const t = iso(at)!;
      if (!v.since || t < v.since) v.since = t;
    };
    for (const r of requests.rows) {
      const v = entry(r.version);
      v.requests = r.n;
      note(v, r.since);
    }
    for (const r of ratings.rows) {
      const v = entry(r.version);
      v[r.rating] += r.n;
      note(v, r.since);
      const hour = iso(r.hour)!;
      const h = v.hourly.get(hour) ?? [0, 0];
      h[r.rating === 'good' ? 0 : 1] += r.n;
      v.hourly.set(hour, h);
    }
    for (const r of raters.rows) Object.assign(entry(r.version), { raters: r.n, badRaters: r.bad });
    return [...out.values()];
  }

  policy(model: string): Promise<RoutingPolicy> {
    const hit = this.policyCache.get(model);
    if (hit && Date.now() - hit.at < POLICY_TTL_MS) return hit.policy;
    const policy = readPolicy(this.pool, model);
    this.policyCache.set(model, { at: Date.now(), policy });
    policy.catch(() => this.policyCache.delete(model));
    return policy;
  }

  async history(model: string): Promise<HistoryEntry[]> {
    const { rows } = await this.pool.query<{
      at: Date;
      action: HistoryEntry['action'];
      from_version: string | null;
      to_version: string | null;
      percent: number | null;
      actor: string;
      reason: string | null;
    }>('SELECT at, action, from_version, to_version, percent, actor, reason FROM release_history WHERE model = $1 ORDER BY id', [model]);
    return rows.map((r) => ({
      at: iso(r.at)!,
      model,
      action: r.action,
      from: r.from_version,
      to: r.to_version,
      ...(r.percent !== null ? { percent: r.percent } : {}),
      actor: r.actor,
      ...(r.reason ? { reason: r.reason } : {}),
    }));
  }

  async withReleaseLock<T>(model: string, fn: (w: ReleaseWriter) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Held until COMMIT/ROLLBACK: every replica's and service's change to this model waits here.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('nst-release:' || $1, 0))", [model]);
      const result = await fn({
        policy: () => readPolicy(client, model),
        setPolicy: async (p) => {
          await client.query(
            `INSERT INTO routing_policy (model, candidate, percent, updated_at, updated_by, reason) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (model) DO UPDATE SET candidate = EXCLUDED.candidate, percent = EXCLUDED.percent, updated_at = EXCLUDED.updated_at,
               updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason`,
            [model, p.candidate, p.percent, p.updated_at, p.updated_by, p.reason ?? null],
          );
        },
        record: async (e) => {
          await client.query('INSERT INTO release_history (model, at, action, from_version, to_version, percent, actor, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
            model,
            e.at,
            e.action,
            e.from,
            e.to,
            e.percent ?? null,
            e.actor,
            e.reason ?? null,
          ]);
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      this.policyCache.delete(model);
      client.release();
    }
  }

  jobRecords<J extends JobRecord>(parse: ParseJobRecord<J>, onUnreadable?: UnreadableJobRecord): JobRecords<J> {
    return new PgJobRecords(this.pool, parse, onUnreadable);
  }

  async health(): Promise<StoreHealth> {
    try {
      await Promise.race([
        this.pool.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref()),
      ]);
      return { ok: true, backend: 'postgres' };
    } catch (err) {
      return { ok: false, backend: 'postgres', detail: `database unreachable: ${(err as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

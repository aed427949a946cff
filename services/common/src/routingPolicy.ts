/**
 * Per-model routing policy next to the model in the store (models/<model>/routing.json):
 * an optional candidate version taking a share of traffic (canary). Written atomically;
 * every change is also appended to models/<model>/history.jsonl with who and why.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { LineAppender, writeFileAtomic } from './atomicFile.ts';
import { parseJsonLines } from './jsonl.ts';
import type { ModelStore } from './modelStore.ts';

export const routingPolicySchema = z.object({
  candidate: z.string().nullable(),
  percent: z.number().min(0).max(100),
  updated_at: z.string(),
  updated_by: z.string(),
  reason: z.string().optional(),
});
export type RoutingPolicy = z.infer<typeof routingPolicySchema>;

function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export const NO_CANARY: RoutingPolicy = { candidate: null, percent: 0, updated_at: new Date(0).toISOString(), updated_by: 'default' };

export interface HistoryEntry {
  at: string;
  model: string;
  action: 'canary' | 'canary_end' | 'promote' | 'rollback' | 'publish';
  from: string | null;
  to: string | null;
  percent?: number;
  actor: string;
  reason?: string;
}

export class RoutingStore {
  private readonly appenders = new Map<string, LineAppender>();
  private readonly cache = new Map<string, { mtime: number; policy: RoutingPolicy }>();

  constructor(private readonly store: ModelStore) {}

  policyPath(model: string): string {
    return path.join(this.store.modelDir(model), 'routing.json');
  }
  historyPath(model: string): string {
    return path.join(this.store.modelDir(model), 'history.jsonl');
  }

  /** The current policy; cached by file mtime, so a change by any process is seen at once. */
  async policy(model: string): Promise<RoutingPolicy> {
    const file = this.policyPath(model);
    const mtime = await stat(file).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtime === 0) return NO_CANARY;
    const hit = this.cache.get(model);
    if (hit && hit.mtime === mtime) return hit.policy;
    const text = await readFile(file, 'utf8').catch(() => null);
    // A damaged file means no canary for this model, never a failure of every model's listing.
    const parsed = text === null ? null : routingPolicySchema.safeParse(parseJsonOrNull(text));
    const policy = parsed?.success ? parsed.data : NO_CANARY;
    this.cache.set(model, { mtime, policy });
    return policy;
  }

  async setPolicy(model: string, policy: RoutingPolicy): Promise<void> {
    await writeFileAtomic(this.policyPath(model), `${JSON.stringify(routingPolicySchema.parse(policy), null, 2)}\n`);
    this.cache.delete(model);
  }

  async record(entry: HistoryEntry): Promise<void> {
    let a = this.appenders.get(entry.model);
    if (!a) {
      a = new LineAppender(this.historyPath(entry.model));
      this.appenders.set(entry.model, a);
    }
    await a.append(JSON.stringify(entry));
  }

  /** Points the canary at a version for a share of traffic, and records who did it and why. */
  async startCanary(c: { model: string; live: string | null; version: string; percent: number; actor: string; reason?: string }): Promise<HistoryEntry> {
    const at = new Date().toISOString();
    await this.setPolicy(c.model, { candidate: c.version, percent: c.percent, updated_at: at, updated_by: c.actor, reason: c.reason });
    const entry: HistoryEntry = { at, model: c.model, action: 'canary', from: c.live, to: c.version, percent: c.percent, actor: c.actor, reason: c.reason };
    await this.record(entry);
    return entry;
  }

  async history(model: string): Promise<HistoryEntry[]> {
    const text = await readFile(this.historyPath(model), 'utf8').catch(() => '');
    return parseJsonLines<HistoryEntry>(text);
  }
}

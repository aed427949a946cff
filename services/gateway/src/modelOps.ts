/**
 * Operator actions on a model's versions — canary, promote, rollback — each recorded in
 * the model's append-only history with who and why, and logged. The automatic rule
 * calls the same actions.
 */
import type { FastifyBaseLogger } from 'fastify';
import { HttpError, NO_CANARY, UnverifiableVersionError, verifyVersion, type HistoryEntry, type ModelStore, type RoutingStore } from '@nst/common';

export class ModelOps {
  /** Serialises changes per model so two operators cannot interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: ModelStore,
    private readonly routing: RoutingStore,
    private readonly log: FastifyBaseLogger,
  ) {}

  private exclusive<T>(model: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(model) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      model,
      next.catch(() => undefined),
    );
    return next;
  }

  private async record(entry: Omit<HistoryEntry, 'at'>): Promise<HistoryEntry> {
    const full = { at: new Date().toISOString(), ...entry };
    await this.routing.record(full);
    return this.logged(full);
  }

  private logged(entry: HistoryEntry): HistoryEntry {
    this.log.info({ nst: { event: 'model_change', model: entry.model, action: entry.action, from: entry.from, to: entry.to, percent: entry.percent, actor: entry.actor } }, `model ${entry.action}: ${entry.model} ${entry.from ?? '-'} → ${entry.to ?? '-'}`);
    return entry;
  }

  /** The version exists, matches its card's sha256 and loads: only such a version takes traffic. */
  private async requireVersion(model: string, version: string): Promise<void> {
    if (!(await this.store.hasVersion(model, version))) throw new HttpError(404, `model ${model} has no version ${version}`);
    try {
      await verifyVersion(this.store, model, version);
    } catch (err) {
      if (err instanceof UnverifiableVersionError) throw new HttpError(409, err.message);
      throw err;
    }
  }

  /** Starts, changes or (percent 0) ends a canary. */
  canary(model: string, version: string | undefined, percent: number, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.exclusive(model, async () => {
      const live = await this.store.latest(model);
      const current = await this.routing.policy(model);
      if (percent === 0) {
        await this.routing.setPolicy(model, { ...NO_CANARY, updated_at: new Date().toISOString(), updated_by: actor, reason });
        return this.record({ model, action: 'canary_end', from: current.candidate, to: null, percent: 0, actor, reason });
      }
      if (!version) throw new HttpError(400, 'name the candidate version');
      await this.requireVersion(model, version);
      if (version === live) throw new HttpError(409, `${version} is already the live version of ${model}`);
      return this.logged(await this.routing.startCanary({ model, live, version, percent, actor, reason }));
    });
  }

  /** Makes the canary candidate the live version and ends the canary. */
  promote(model: string, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.exclusive(model, async () => {
      const { candidate } = await this.routing.policy(model);
      if (!candidate) throw new HttpError(409, `model ${model} has no canary candidate to promote`);
      await this.requireVersion(model, candidate);
      const live = await this.store.latest(model);
      await this.store.setLatest(model, candidate);
      await this.routing.setPolicy(model, { ...NO_CANARY, updated_at: new Date().toISOString(), updated_by: actor, reason });
      return this.record({ model, action: 'promote', from: live, to: candidate, actor, reason });
    });
  }

  /**
   * Rolls back: to a named version (which becomes live), or, when none is named, drops
   * the canary candidate. Either way the canary ends.
   */
  rollback(model: string, version: string | undefined, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.exclusive(model, async () => {
      const live = await this.store.latest(model);
      const { candidate } = await this.routing.policy(model);
      if (!version && !candidate) throw new HttpError(400, `model ${model} has no canary; name the version to roll back to`);
      if (version) {
        await this.requireVersion(model, version);
        await this.store.setLatest(model, version);
      }
      await this.routing.setPolicy(model, { ...NO_CANARY, updated_at: new Date().toISOString(), updated_by: actor, reason });
      return this.record({ model, action: 'rollback', from: version ? live : candidate, to: version ?? live, actor, reason });
    });
  }
}

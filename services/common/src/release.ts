/**
 * The one owner of what is live: the only writer of models/<model>/latest.txt (which the
 * inference services follow), of the routing policy (canary) and of the release history.
 * The gateway's admin actions, the automatic canary rule, fine-tune publishing and the first
 * import all change releases through here. Each change runs under the store's per-model
 * release lock, so changes from different processes and replicas are serialised, and is
 * recorded with who made it, why and when.
 */
import { HttpError } from './httpService.ts';
import type { ModelStore } from './modelStore.ts';
import { NO_CANARY, type HistoryEntry } from './routingPolicy.ts';
import { UnverifiableVersionError, verifyVersion } from './versionCheck.ts';
import { sharedPlatformStore } from './store/open.ts';
import type { PlatformStore, ReleaseWriter } from './store/types.ts';

interface ChangeLog {
  info(obj: object, msg: string): void;
}

type Change = Omit<HistoryEntry, 'at' | 'model'>;

export class ReleaseOwner {
  constructor(
    readonly models: ModelStore,
    readonly store: PlatformStore,
    private readonly log?: ChangeLog,
  ) {}

  /**
   * Runs one change under the lock. `moveLive` (when the change makes a version live) writes
   * latest.txt after the policy and before the history entry and the commit; if anything after
   * it fails, latest.txt goes back to what it was, so the history never misses a move.
   */
  private change(model: string, fn: (w: ReleaseWriter, live: string | null, moveLive: (version: string) => Promise<void>) => Promise<Change>): Promise<HistoryEntry> {
    return this.store.withReleaseLock(model, async (w) => {
      const live = await this.models.latest(model);
      let moved = false;
      const moveLive = async (version: string) => {
        await this.models.setLatest(model, version);
        moved = true;
      };
      try {
        const c = await fn(w, live, moveLive);
        const entry: HistoryEntry = { at: new Date().toISOString(), model, ...c };
        await w.record(entry);
        this.log?.info(
          { nst: { event: 'model_change', model, action: entry.action, from: entry.from, to: entry.to, percent: entry.percent, actor: entry.actor } },
          `model ${entry.action}: ${model} ${entry.from ?? '-'} → ${entry.to ?? '-'}`,
        );
        return entry;
      } catch (err) {
        if (moved && live) await this.models.setLatest(model, live).catch(() => undefined);
        throw err;
      }
    });
  }

  private async requireVersion(model: string, version: string): Promise<void> {
    if (!(await this.models.hasVersion(model, version))) throw new HttpError(404, `model ${model} has no version ${version}`);
    // Only a version whose artefact matches its card and is a model of its kind may take traffic.
    try {
      await verifyVersion(this.models, model, version);
    } catch (err) {
      if (err instanceof UnverifiableVersionError) throw new HttpError(409, err.message);
      throw err;
    }
  }

  private endCanary(w: ReleaseWriter, actor: string, reason?: string): Promise<void> {
    return w.setPolicy({ ...NO_CANARY, updated_at: new Date().toISOString(), updated_by: actor, reason });
  }

  /** Starts, changes or (percent 0) ends a canary. */
  canary(model: string, version: string | undefined, percent: number, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.change(model, async (w, live) => {
      if (percent === 0) {
        const current = await w.policy();
        await this.endCanary(w, actor, reason);
        return { action: 'canary_end', from: current.candidate, to: null, percent: 0, actor, reason };
      }
      if (!version) throw new HttpError(400, 'name the candidate version');
      await this.requireVersion(model, version);
      if (version === live) throw new HttpError(409, `${version} is already the live version of ${model}`);
      await w.setPolicy({ candidate: version, percent, updated_at: new Date().toISOString(), updated_by: actor, reason });
      return { action: 'canary', from: live, to: version, percent, actor, reason };
    });
  }

  /** Makes the canary candidate the live version and ends the canary. */
  promote(model: string, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.change(model, async (w, live, moveLive) => {
      const { candidate } = await w.policy();
      if (!candidate) throw new HttpError(409, `model ${model} has no canary candidate to promote`);
      await this.requireVersion(model, candidate);
      await this.endCanary(w, actor, reason);
      await moveLive(candidate);
      return { action: 'promote', from: live, to: candidate, actor, reason };
    });
  }

  /**
   * Rolls back: to a named version (which becomes live), or, when none is named, drops the
   * canary candidate. Either way the canary ends.
   */
  rollback(model: string, version: string | undefined, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.change(model, async (w, live, moveLive) => {
      const { candidate } = await w.policy();
      if (!version && !candidate) throw new HttpError(400, `model ${model} has no canary; name the version to roll back to`);
      if (version) await this.requireVersion(model, version);
      await this.endCanary(w, actor, reason);
      if (version) await moveLive(version);
      return { action: 'rollback', from: version ? live : candidate, to: version ?? live, actor, reason };
    });
  }

  /** Makes a newly published version live at once (a fine-tune published as "latest"). A canary of it ends. */
  publish(model: string, version: string, actor: string, reason?: string): Promise<HistoryEntry> {
    return this.change(model, async (w, live, moveLive) => {
      await this.requireVersion(model, version);
      const { candidate } = await w.policy();
      if (candidate === version) await this.endCanary(w, actor, reason);
      await moveLive(version);
      return { action: 'publish', from: live, to: version, actor, reason };
    });
  }

  /** The first import: makes `version` live only if the model has no live version yet. */
  async initialRelease(model: string, version: string, actor = 'import', reason = 'first import'): Promise<HistoryEntry | null> {
    if (await this.models.latest(model)) return null;
    return this.change(model, async (_w, live, moveLive) => {
      if (live) throw new NothingToDo();
      await this.requireVersion(model, version);
      await moveLive(version);
      return { action: 'publish', from: null, to: version, actor, reason };
    }).catch((err) => {
      if (err instanceof NothingToDo) return null;
      throw err;
    });
  }
}

class NothingToDo extends Error {}

/** The release owner for a model store, on the process's shared platform store (NST_DATABASE_URL or files). */
export async function releaseOwnerFor(models: ModelStore): Promise<ReleaseOwner> {
  return new ReleaseOwner(models, await sharedPlatformStore(models.root));
}

/** Which version of a model serves a request: the live one named by latest.txt. */
import { HttpError, type ModelStore } from '@nst/common';

export interface Resolution {
  version: string;
  /** Why this version: 'live', 'pinned', or 'canary'. */
  reason: 'live' | 'pinned' | 'canary';
}

export class VersionResolver {
  /** latest.txt contents cached by modification time: one stat per request. */
  private readonly cache = new Map<string, { mtime: number; version: string | null }>();

  constructor(private readonly store: ModelStore) {}

  async live(model: string): Promise<string | null> {
    const mtime = await this.store.latestMtime(model);
    const hit = this.cache.get(model);
    if (hit && hit.mtime === mtime && mtime !== 0) return hit.version;
    const version = await this.store.latest(model);
    this.cache.set(model, { mtime, version });
    return version;
  }

  async resolve(model: string, pinned?: string): Promise<Resolution> {
    if (pinned) {
      if (!(await this.store.hasVersion(model, pinned))) throw new HttpError(404, `model ${model} has no version ${pinned}`);
      return { version: pinned, reason: 'pinned' };
    }
    const version = await this.live(model);
    if (!version) throw new HttpError(503, `model ${model} has no live version yet (run pnpm models:pull)`);
    return { version, reason: 'live' };
  }
}

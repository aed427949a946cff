/**
 * Which version of a model serves a request: a pinned one (X-Model-Version), else the
 * canary candidate for the clients whose sticky bucket falls in its share, else the live
 * version named by latest.txt. Anyone may pin a version being served (live or canary);
 * pinning any other stored version needs the admin token, so clients cannot route
 * themselves (and their ratings) to versions nobody released.
 */
import { createHash } from 'node:crypto';
import { HttpError, type ModelStore, type PlatformStore } from '@nst/common';

export interface Resolution {
  version: string;
  /** Why this version was chosen. */
  reason: 'live' | 'pinned' | 'canary';
}

/** A client's stable position in 0..100 for a model: the same user sees the same version. */
export function clientBucket(clientId: string, model: string): number {
  const h = createHash('sha256').update(`${model}\u0000${clientId}`).digest();
  return (h.readUInt32BE(0) % 10_000) / 100;
}

export class VersionResolver {
  /** latest.txt contents cached by modification time: one stat per request. */
  private readonly cache = new Map<string, { mtime: number; version: string | null }>();

  constructor(
    private readonly store: ModelStore,
    private readonly platform: PlatformStore,
  ) {}

  async live(model: string): Promise<string | null> {
    const mtime = await this.store.latestMtime(model);
    const hit = this.cache.get(model);
    if (hit && hit.mtime === mtime && mtime !== 0) return hit.version;
    const version = await this.store.latest(model);
    this.cache.set(model, { mtime, version });
    return version;
  }

  async resolve(model: string, opts: { pinned?: string; clientId?: string; mayPinAny?: boolean } = {}): Promise<Resolution> {
    if (opts.pinned) {
      if (!(await this.store.hasVersion(model, opts.pinned))) throw new HttpError(404, `model ${model} has no version ${opts.pinned}`);
      if (!opts.mayPinAny) {
        const [live, policy] = await Promise.all([this.live(model), this.platform.policy(model)]);
        const served = opts.pinned === live || (policy.percent > 0 && opts.pinned === policy.candidate);
        if (!served) throw new HttpError(403, `${opts.pinned} is not being served; pinning it needs the admin token`);
      }
      return { version: opts.pinned, reason: 'pinned' };
    }
    const live = await this.live(model);
    if (!live) throw new HttpError(503, `model ${model} has no live version yet (run pnpm models:pull)`);
    const policy = await this.platform.policy(model);
    if (policy.candidate && policy.candidate !== live && policy.percent > 0 && opts.clientId) {
      if (clientBucket(opts.clientId, model) < policy.percent) return { version: policy.candidate, reason: 'canary' };
    }
    return { version: live, reason: 'live' };
  }
}

/** Which version serves a request: pinned, canary by sticky client bucket, or live; on a temp file store. */
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, HttpError, ModelStore, type RoutingPolicy } from '@nst/common';
import { testCard } from '../../common/test/support/testCard.ts';
import { VersionResolver, clientBucket } from '../src/versionResolver.ts';

const MODEL = 'model1';
const card = testCard(MODEL);

/** The first client ids whose bucket for MODEL is below, or at or above, `percent`. */
function clientsAround(percent: number, n = 5) {
  const below: string[] = [];
  const above: string[] = [];
  for (let i = 0; below.length < n || above.length < n; i++) {
    const id = `client-${i}`;
    (clientBucket(id, MODEL) < percent ? below : above).push(id);
  }
  return { below: below.slice(0, n), above: above.slice(0, n) };
}

describe('version resolver', () => {
  let root: string;
  let models: ModelStore;
  let platform: FileStore;
  let resolver: VersionResolver;
  const setPolicy = (p: Pick<RoutingPolicy, 'candidate' | 'percent'>) =>
    platform.withReleaseLock(MODEL, (w) => w.setPolicy({ ...p, updated_at: new Date().toISOString(), updated_by: 'test' }));

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'nst-resolver-'));
    models = new ModelStore(root);
    platform = new FileStore(root);
    for (let i = 0; i < 3; i++) await models.addVersion(MODEL, new Uint8Array([i]), card);
    resolver = new VersionResolver(models, platform);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('answers 503 while the model has no live version', async () => {
    const err = await resolver.resolve(MODEL, { clientId: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(503);
  });

  it('serves the live version when there is no canary, and follows latest.txt when it moves', async () => {
    await models.setLatest(MODEL, 'model1_v1');
    expect(await resolver.resolve(MODEL, { clientId: 'a' })).toEqual({ version: 'model1_v1', reason: 'live' });
    await models.setLatest(MODEL, 'model1_v2');
    // A distinct modification time, as any later write has: the cache is keyed by it.
    const later = new Date(Date.now() + 5_000);
    await utimes(models.latestPath(MODEL), later, later);
    expect(await resolver.resolve(MODEL, { clientId: 'a' })).toEqual({ version: 'model1_v2', reason: 'live' });
  });

  it('buckets are stable per client and model, in 0..100, and spread evenly', () => {
    expect(clientBucket('alice', MODEL)).toBe(clientBucket('alice', MODEL));
    const buckets = Array.from({ length: 2000 }, (_, i) => clientBucket(`c${i}`, MODEL));
    expect(Math.min(...buckets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...buckets)).toBeLessThan(100);
    const share = buckets.filter((b) => b < 25).length / buckets.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
    // Another model puts the same clients elsewhere: one canary does not pick the same users everywhere.
    const other = Array.from({ length: 50 }, (_, i) => clientBucket(`c${i}`, 'model2'));
    expect(other).not.toEqual(buckets.slice(0, 50));
  });

  it('sends exactly the clients whose bucket is below the percent to the candidate, every time', async () => {
    await models.setLatest(MODEL, 'model1_v1');
    await setPolicy({ candidate: 'model1_v2', percent: 30 });
    const { below, above } = clientsAround(30);
    for (let round = 0; round < 2; round++) {
      for (const id of below) expect(await resolver.resolve(MODEL, { clientId: id })).toEqual({ version: 'model1_v2', reason: 'canary' });
      for (const id of above) expect(await resolver.resolve(MODEL, { clientId: id })).toEqual({ version: 'model1_v1', reason: 'live' });
    }
    // Without a client id there is nothing to stick to: the live version.
    expect((await resolver.resolve(MODEL)).version).toBe('model1_v1');
  });

  it('a client whose bucket equals the percent stays on live; a hundredth more takes it', async () => {
    await models.setLatest(MODEL, 'model1_v1');
    const b = clientBucket('edge', MODEL);
    await setPolicy({ candidate: 'model1_v2', percent: b });
    expect((await resolver.resolve(MODEL, { clientId: 'edge' })).reason).toBe('live');
    await setPolicy({ candidate: 'model1_v2', percent: Math.min(100, b + 0.01) });
    expect((await resolver.resolve(MODEL, { clientId: 'edge' })).reason).toBe('canary');
  });

  it('percent 0 sends nobody to the candidate, percent 100 everybody; a candidate equal to live is live', async () => {
    await models.setLatest(MODEL, 'model1_v1');
    const ids = Array.from({ length: 40 }, (_, i) => `u${i}`);
    await setPolicy({ candidate: 'model1_v2', percent: 0 });
    for (const id of ids) expect((await resolver.resolve(MODEL, { clientId: id })).version).toBe('model1_v1');
    await setPolicy({ candidate: 'model1_v2', percent: 100 });
    for (const id of ids) expect((await resolver.resolve(MODEL, { clientId: id })).version).toBe('model1_v2');
    await setPolicy({ candidate: 'model1_v1', percent: 100 });
    expect(await resolver.resolve(MODEL, { clientId: 'u0' })).toEqual({ version: 'model1_v1', reason: 'live' });
  });

  it('anyone may pin a served version; other stored versions need the admin token; unknown ones are 404', async () => {
    await models.setLatest(MODEL, 'model1_v1');
    await setPolicy({ candidate: 'model1_v2', percent: 10 });
    const status = (p: Promise<unknown>) => p.then(() => 200, (e: HttpError) => e.statusCode);
    expect(await resolver.resolve(MODEL, { pinned: 'model1_v1' })).toEqual({ version: 'model1_v1', reason: 'pinned' });
    expect(await resolver.resolve(MODEL, { pinned: 'model1_v2' })).toEqual({ version: 'model1_v2', reason: 'pinned' });
    expect(await status(resolver.resolve(MODEL, { pinned: 'model1_v3' }))).toBe(403);
    expect(await resolver.resolve(MODEL, { pinned: 'model1_v3', mayPinAny: true })).toEqual({ version: 'model1_v3', reason: 'pinned' });
    expect(await status(resolver.resolve(MODEL, { pinned: 'model1_v9', mayPinAny: true }))).toBe(404);
    // A candidate at 0 % is not being served: pinning it is refused too.
    await setPolicy({ candidate: 'model1_v2', percent: 0 });
    expect(await status(resolver.resolve(MODEL, { pinned: 'model1_v2' }))).toBe(403);
  });
});

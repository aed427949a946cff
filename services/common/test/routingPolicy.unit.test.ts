/** The routing policy on the file store: its schema's bounds, the default, damage and changes by another process. */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_CANARY, routingPolicySchema, type RoutingPolicy } from '../src/routingPolicy.ts';
import { FileStore } from '../src/store/fileStore.ts';

const policy = (candidate: string | null, percent: number): RoutingPolicy => ({ candidate, percent, updated_at: '2026-01-01T00:00:00.000Z', updated_by: 'test' });

describe('routing policy', () => {
  it('takes a percent from 0 to 100 inclusive, nothing outside', () => {
    for (const p of [0, 0.01, 50, 100]) expect(routingPolicySchema.safeParse(policy('m_v2', p)).success).toBe(true);
    for (const p of [-0.01, 100.01, Number.NaN]) expect(routingPolicySchema.safeParse(policy('m_v2', p)).success).toBe(false);
    expect(routingPolicySchema.safeParse({ ...policy(null, 0), updated_by: undefined }).success).toBe(false);
  });

  describe('on the file store', () => {
    let root: string;
    let store: FileStore;
    beforeEach(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'nst-policy-'));
      store = new FileStore(root);
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it('is "no canary" for a model that never had one', async () => {
      expect(await store.policy('model1')).toEqual(NO_CANARY);
    });

    it('is written whole and read back; an invalid one is refused and the old one kept', async () => {
      await store.withReleaseLock('model1', (w) => w.setPolicy(policy('model1_v2', 100)));
      expect(await store.policy('model1')).toEqual(policy('model1_v2', 100));
      await expect(store.withReleaseLock('model1', (w) => w.setPolicy(policy('model1_v3', 101)))).rejects.toThrow();
      expect(await store.policy('model1')).toEqual(policy('model1_v2', 100));
      expect(await store.policy('model2')).toEqual(NO_CANARY);
    });

    it('a damaged or out-of-range file routes everything to live instead of failing requests', async () => {
      await mkdir(path.dirname(store.policyPath('model1')), { recursive: true });
      await writeFile(store.policyPath('model1'), '{"candidate": "model1_v2", "perc');
      expect(await store.policy('model1')).toEqual(NO_CANARY);
      await writeFile(store.policyPath('model1'), JSON.stringify(policy('model1_v2', 150)));
      await utimes(store.policyPath('model1'), new Date(), new Date(Date.now() + 1_000));
      expect(await store.policy('model1')).toEqual(NO_CANARY);
    });

    it('sees a change made by another process (another store on the same folder) at once', async () => {
      const other = new FileStore(root);
      await store.withReleaseLock('model1', (w) => w.setPolicy(policy('model1_v2', 10)));
      expect((await other.policy('model1')).percent).toBe(10);
      await store.withReleaseLock('model1', (w) => w.setPolicy(policy('model1_v2', 60)));
      await utimes(store.policyPath('model1'), new Date(), new Date(Date.now() + 1_000));
      expect((await other.policy('model1')).percent).toBe(60);
    });
  });
});

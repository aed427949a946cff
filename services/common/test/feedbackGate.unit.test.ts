/** The feedback gate: retrain when the live version's bad ratings exceed the threshold, from stats or from the shared volume. */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkThreshold, countBadFeedback, gateFromStats, gateFromStore, latestRatings, type GateStats } from '../src/feedbackGate.ts';
import type { FeedbackEntry as FeedbackRecord } from '@nst/contracts';
import { ModelStore } from '../src/modelStore.ts';
import { testCard } from './support/testCard.ts';

const stats = (bad: number, extra: Partial<GateStats['versions'][number]> = {}, live: string | null = 'model1_v2'): GateStats => ({
  model: 'model1',
  live_version: live,
  versions: [
    { version: 'model1_v1', bad: 100 },
    { version: 'model1_v2', bad, since: '2026-01-01T00:00:00.000Z', ...extra },
  ],
});

describe('feedback gate from statistics', () => {
  it('triggers only when the live version\'s bad count exceeds the threshold', () => {
    expect(gateFromStats(stats(5), 5).trigger).toBe(false);
    expect(gateFromStats(stats(6), 5)).toMatchObject({ trigger: true, bad: 6, threshold: 5, live_version: 'model1_v2', since: '2026-01-01T00:00:00.000Z', source: 'stats' });
    // Threshold 0: a single bad rating is enough.
    expect(gateFromStats(stats(1), 0).trigger).toBe(true);
    expect(gateFromStats(stats(0), 0).trigger).toBe(false);
  });

  it('counts the live version only: other versions\' ratings, a missing entry or no live version never trigger', () => {
    expect(gateFromStats(stats(0), 5).bad).toBe(0); // v1's 100 do not count
    expect(gateFromStats({ model: 'model1', live_version: 'model1_v3', versions: [] }, 0)).toMatchObject({ bad: 0, trigger: false });
    expect(gateFromStats(stats(50, {}, null), 0).trigger).toBe(false);
  });

  it('needs the bad ratings from at least minRaters distinct clients', () => {
    expect(gateFromStats(stats(20, { bad_raters: 2 }), 5, 3).trigger).toBe(false);
    expect(gateFromStats(stats(20, { bad_raters: 3 }), 5, 3).trigger).toBe(true);
    // Unknown raters: one per rating.
    expect(gateFromStats(stats(6), 5, 6)).toMatchObject({ bad_raters: 6, trigger: true });
  });

  it('refuses a threshold that is negative or not whole', () => {
    expect(checkThreshold(0)).toBe(0);
    expect(() => checkThreshold(-1)).toThrow(RangeError);
    expect(() => checkThreshold(2.5)).toThrow(RangeError);
    expect(() => gateFromStats(stats(1), -1)).toThrow(RangeError);
  });
});

describe('bad ratings of a version', () => {
  const since = new Date('2026-03-01T12:00:00.000Z');
  // Timestamps may be absent in old lines, which the gate still counts, hence the loose override.
  const bad = (over: Partial<Record<keyof FeedbackRecord, unknown>>): FeedbackRecord =>
    ({ feedback: 'bad', model: 'model1', version: 'model1_v2', content_image_filename: 'in.png', output_image_filename: 'out.png', received_at: '2026-03-02T00:00:00.000Z', ...over }) as FeedbackRecord;

  it('counts bad ratings of that model and version from `since` on (inclusive); a line without a time counts', () => {
    const records = [
      bad({}),
      bad({ received_at: since.toISOString() }),
      bad({ received_at: '2026-03-01T11:59:59.999Z' }),
      bad({ received_at: undefined, timestamp: undefined }),
      bad({ feedback: 'good' }),
      bad({ version: 'model1_v1' }),
      bad({ model: 'model2' }),
    ];
    expect(countBadFeedback(records, 'model1', 'model1_v2', since)).toBe(3);
    expect(countBadFeedback(records, 'model1', 'model1_v2')).toBe(4);
  });

  it('takes received_at over the client\'s timestamp', () => {
    const r = bad({ received_at: '2026-02-01T00:00:00.000Z', timestamp: '2026-04-01T00:00:00.000Z' });
    expect(countBadFeedback([r], 'model1', 'model1_v2', since)).toBe(0);
  });

  it('of one client\'s ratings of one output only the last counts; other clients and outputs are separate', () => {
    const rows: FeedbackRecord[] = [
      bad({ output_image_filename: 'a.png', client_id: 'c1' }),
      bad({ feedback: 'good', output_image_filename: 'a.png', client_id: 'c1' }),
      bad({ output_image_filename: 'a.png', client_id: 'c2' }),
      bad({ output_image_filename: 'b.png', client_id: 'c1' }),
      bad({ output_image_filename: 'c.png' }),
      bad({ output_image_filename: 'c.png' }),
    ];
    expect(latestRatings(rows)).toEqual([rows[1], rows[2], rows[3], rows[4], rows[5]]);
  });
});

describe('feedback gate from the shared volume', () => {
  let root: string;
  let store: ModelStore;
  const card = testCard('model1');
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'nst-gate-'));
    store = new ModelStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('does not trigger for a model with no live version', async () => {
    expect(await gateFromStore(root, 'model1', 0)).toMatchObject({ live_version: null, bad: 0, trigger: false, source: 'store' });
  });

  it('counts the live version\'s bad ratings since latest.txt changed, last rating per client and output, skipping a torn line', async () => {
    await store.addVersion('model1', new Uint8Array([1]), card);
    await store.setLatest('model1', 'model1_v1');
    const wentLive = new Date('2026-05-01T00:00:00.000Z');
    await utimes(store.latestPath('model1'), wentLive, wentLive);
    const line = (o: object) => JSON.stringify({ model: 'model1', version: 'model1_v1', feedback: 'bad', content_image_filename: 'in.png', timestamp: '2026-05-01T00:00:00.000Z', ...o });
    const lines = [
      line({ received_at: '2026-04-30T23:59:59.000Z', output_image_filename: 'old.png', client_id: 'c0' }),
      line({ received_at: '2026-05-01T00:00:01.000Z', output_image_filename: 'a.png', client_id: 'c1' }),
      line({ received_at: '2026-05-01T00:00:02.000Z', output_image_filename: 'a.png', client_id: 'c1', feedback: 'good' }),
      line({ received_at: '2026-05-01T00:00:03.000Z', output_image_filename: 'b.png', client_id: 'c1' }),
      line({ received_at: '2026-05-01T00:00:04.000Z', output_image_filename: 'b.png', client_id: 'c2' }),
      '{"model":"model1","version":"model1_v1","feedb',
    ];
    await writeFile(path.join(root, 'feedback.jsonl'), lines.join('\n'));
    const at1 = await gateFromStore(root, 'model1', 1);
    expect(at1).toMatchObject({ live_version: 'model1_v1', since: wentLive.toISOString(), bad: 2, threshold: 1, trigger: true });
    expect((await gateFromStore(root, 'model1', 2)).trigger).toBe(false);
  });

  it('reads no feedback file as no ratings', async () => {
    await store.addVersion('model1', new Uint8Array([1]), card);
    await store.setLatest('model1', 'model1_v1');
    expect(await gateFromStore(root, 'model1', 0)).toMatchObject({ bad: 0, trigger: false });
  });
});

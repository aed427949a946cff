/** The automatic canary rule: wait for enough ratings and raters, then promote unless worse by more than the margin. */
import { describe, expect, it } from 'vitest';
import { badRate, decideCanary, type RatedCounts } from '../src/canaryDecision.ts';

const rated = (good: number, bad: number, raters?: number): RatedCounts => ({ good, bad, ...(raters === undefined ? {} : { raters }) });

describe('canary rule', () => {
  it('bad rate is bad over all ratings, 0 with none', () => {
    expect(badRate(rated(0, 0))).toBe(0);
    expect(badRate(rated(3, 1))).toBe(0.25);
  });

  it('waits until each version has exactly minRated ratings, whichever is short', () => {
    const rule = { minRated: 10, margin: 0.1 };
    expect(decideCanary(rated(9, 0), rated(10, 0), rule).action).toBe('wait');
    expect(decideCanary(rated(10, 0), rated(5, 4), rule)).toEqual({ action: 'wait', reason: 'needs 10 ratings of each version (live 10, candidate 9)' });
    expect(decideCanary(rated(10, 0), rated(10, 0), rule).action).toBe('promote');
  });

  it('waits for minRaters distinct clients on each side; raters default to the ratings when unknown', () => {
    const rule = { minRated: 4, margin: 0, minRaters: 3 };
    expect(decideCanary(rated(4, 0, 3), rated(4, 0, 2), rule).action).toBe('wait');
    expect(decideCanary(rated(4, 0, 2), rated(4, 0, 3), rule).action).toBe('wait');
    expect(decideCanary(rated(4, 0, 3), rated(4, 0, 3), rule).action).toBe('promote');
    // Unknown raters count as one per rating: 4 ratings satisfy 3 raters.
    expect(decideCanary(rated(4, 0), rated(4, 0), rule).action).toBe('promote');
    // One client's many ratings are not enough.
    expect(decideCanary(rated(40, 0, 1), rated(40, 0, 1), rule).reason).toMatch(/needs ratings from 3 distinct clients/);
  });

  it('promotes at exactly live + margin and rolls back just beyond it', () => {
    const rule = { minRated: 4, margin: 0.25 };
    const live = rated(3, 1); // 25 % bad
    expect(decideCanary(live, rated(2, 2), rule)).toEqual({ action: 'promote', reason: 'not worse: bad rate candidate 50.0% vs live 25.0% (margin 25.0 points)' });
    expect(decideCanary(live, rated(2, 3), rule).action).toBe('rollback'); // 60 %
    expect(decideCanary(live, rated(4, 0), rule).action).toBe('promote'); // better
  });

  it('with no margin a tie promotes and any worse candidate is rolled back', () => {
    const rule = { minRated: 2, margin: 0 };
    expect(decideCanary(rated(5, 5), rated(1, 1), rule).action).toBe('promote');
    expect(decideCanary(rated(5, 5), rated(99, 101), rule).action).toBe('rollback');
  });
});

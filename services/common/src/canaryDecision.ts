/**
 * The automatic canary rule: once both versions have enough ratings from enough distinct
 * clients (`raters`, when known; `minRaters`, default 1), promote a candidate
 * whose bad rate is not worse than the live version's by more than the margin, otherwise
 * roll it back. Shared by the gateway's auto rule and the pipeline scripts.
 */
export interface RatedCounts {
  good: number;
  bad: number;
  /** Distinct clients behind the ratings. */
  raters?: number;
}

export interface CanaryRule {
  minRated: number;
  margin: number;
  minRaters?: number;
}

export type CanaryVerdict = { action: 'wait'; reason: string } | { action: 'promote' | 'rollback'; reason: string };

export const badRate = (c: RatedCounts) => (c.good + c.bad === 0 ? 0 : c.bad / (c.good + c.bad));

export function decideCanary(live: RatedCounts, candidate: RatedCounts, rule: CanaryRule): CanaryVerdict {
  const [nLive, nCand] = [live.good + live.bad, candidate.good + candidate.bad];
  if (nCand < rule.minRated || nLive < rule.minRated) {
    return { action: 'wait', reason: `needs ${rule.minRated} ratings of each version (live ${nLive}, candidate ${nCand})` };
  }
  const minRaters = rule.minRaters ?? 1;
  const [rLive, rCand] = [live.raters ?? nLive, candidate.raters ?? nCand];
  if (rLive < minRaters || rCand < minRaters) {
    return { action: 'wait', reason: `needs ratings from ${minRaters} distinct clients of each version (live ${rLive}, candidate ${rCand})` };
  }
  const [l, c] = [badRate(live), badRate(candidate)];
  const detail = `bad rate candidate ${(c * 100).toFixed(1)}% vs live ${(l * 100).toFixed(1)}% (margin ${(rule.margin * 100).toFixed(1)} points)`;
  return c <= l + rule.margin ? { action: 'promote', reason: `not worse: ${detail}` } : { action: 'rollback', reason: `worse: ${detail}` };
}

/**
 * The feedback gate: when a model's live version has collected more `bad` ratings than
 * the threshold since it was published, it is time to fine-tune. The gateway's automatic
 * loop and the Jenkins pipeline (scripts/pipeline/feedback-gate.ts) both decide with this.
 */
export interface GateInput {
  model: string;
  liveVersion: string | null;
  /** Feedback lines (as in feedback.jsonl) or per-version counts. */
  badForLive: number;
  threshold: number;
}

export interface GateDecision {
  model: string;
  live_version: string | null;
  bad: number;
  threshold: number;
  trigger: boolean;
  reason: string;
}

export function feedbackGate(i: GateInput): GateDecision {
  const trigger = i.liveVersion !== null && i.badForLive > i.threshold;
  const reason = i.liveVersion === null ? `${i.model} has no live version` : `${i.badForLive} bad ratings for ${i.liveVersion}, threshold ${i.threshold}: ${trigger ? 'fine-tune' : 'no action'}`;
  return { model: i.model, live_version: i.liveVersion, bad: i.badForLive, threshold: i.threshold, trigger, reason };
}

/** Counts `bad` lines for a model's version in feedback.jsonl text. */
export function countBad(feedbackJsonl: string, model: string, version: string): number {
  let n = 0;
  for (const line of feedbackJsonl.split('\n')) {
    if (!line.trim()) continue;
    try {
      const f = JSON.parse(line) as { model?: string; version?: string; feedback?: string };
      if (f.model === model && f.version === version && f.feedback === 'bad') n++;
    } catch {
      // a torn or foreign line: not a rating
    }
  }
  return n;
}

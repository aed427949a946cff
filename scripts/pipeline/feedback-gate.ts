/**
 * Feedback gate for the NST_App pipeline: for each model, counts the `bad` ratings of its live
 * version since it went live and says whether fine-tuning should be triggered (count > threshold).
 *
 *   tsx scripts/pipeline/feedback-gate.ts --gateway-url https://staging.nst.example.com [--model model1] [--threshold 5]
 *   tsx scripts/pipeline/feedback-gate.ts --storage-dir /persistent_storage [--feedback-file F] [--model model1]
 *
 * Prints one JSON object: { threshold, decisions: [{ model, live_version, since, bad, threshold, trigger, source }], trigger: [models] }.
 * Exit status: 0 on success (whatever the decision), 2 on bad usage, 1 when the source cannot be read.
 * With --fail-on-trigger, exits 3 when some model should be fine-tuned.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_BAD_FEEDBACK_THRESHOLD, checkThreshold, gateFromStats, gateFromStore, type GateDecision } from '@nst/common/feedbackGate';
import type { ModelStats } from '@nst/contracts';
import { DEFAULT_MODELS, modelListSchema } from '@nst/common/styles';

export interface GateOptions {
  gatewayUrl?: string;
  storageDir?: string;
  feedbackFile?: string;
  models?: string[];
  threshold: number;
  timeoutMs?: number;
}

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

export async function runGate(o: GateOptions): Promise<{ threshold: number; decisions: GateDecision[]; trigger: string[] }> {
  checkThreshold(o.threshold);
  const timeoutMs = o.timeoutMs ?? 15_000;
  let decisions: GateDecision[];
  if (o.gatewayUrl) {
    const base = o.gatewayUrl.replace(/\/+$/, '');
    const models = o.models?.length ? o.models : (await getJson<{ models: { name: string }[] }>(`${base}/api/models`, timeoutMs)).models.map((m) => m.name);
    decisions = [];
    for (const m of models) {
      const stats = await getJson<ModelStats>(`${base}/api/models/${encodeURIComponent(m)}/stats`, timeoutMs);
      decisions.push(gateFromStats(stats, o.threshold));
    }
  } else if (o.storageDir) {
    const models = o.models?.length ? o.models : modelListSchema.parse(process.env.NST_MODELS || DEFAULT_MODELS).map((m) => m.name);
    const storageDir = path.resolve(o.storageDir);
    decisions = await Promise.all(models.map((m) => gateFromStore(storageDir, m, o.threshold, o.feedbackFile ? path.resolve(o.feedbackFile) : undefined)));
  } else {
    throw new UsageError('give --gateway-url or --storage-dir');
  }
  return { threshold: o.threshold, decisions, trigger: decisions.filter((d) => d.trigger).map((d) => d.model) };
}

export class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'gateway-url': { type: 'string' },
        'storage-dir': { type: 'string' },
        'feedback-file': { type: 'string' },
        model: { type: 'string', multiple: true },
        threshold: { type: 'string', default: String(DEFAULT_BAD_FEEDBACK_THRESHOLD) },
        'fail-on-trigger': { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    console.error(`feedback-gate: ${(err as Error).message}`);
    return 2;
  }
  const threshold = Number(values.threshold);
  if (!Number.isInteger(threshold) || threshold < 0) {
    console.error(`feedback-gate: --threshold must be a whole number ≥ 0, got "${values.threshold}"`);
    return 2;
  }
  const models = (values.model ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  try {
    const result = await runGate({ gatewayUrl: values['gateway-url'], storageDir: values['storage-dir'], feedbackFile: values['feedback-file'], models, threshold });
    console.log(JSON.stringify(result));
    for (const d of result.decisions) {
      console.error(`feedback-gate: ${d.model} live=${d.live_version ?? 'none'} bad=${d.bad} threshold=${d.threshold} → ${d.trigger ? 'FINE-TUNE' : 'ok'}`);
    }
    return values['fail-on-trigger'] && result.trigger.length > 0 ? 3 : 0;
  } catch (err) {
    console.error(`feedback-gate: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}

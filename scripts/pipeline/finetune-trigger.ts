/**
 * Starts a fine-tuning job and follows it to its end (the FineTuneModels pipeline).
 *
 *   NST_ADMIN_TOKEN=… tsx scripts/pipeline/finetune-trigger.ts --url http://finetune:8005 --model model1 \
 *     [--steps 200] [--batch-size 4] [--image-size 256] [--learning-rate 0.001] [--style-weight …]
 *     [--content-weight …] [--tv-weight …] [--data feedback|base|both] [--publish latest|none|canary]
 *     [--canary-percent 10] [--poll-ms 5000] [--timeout-s 7200]
 *
 * POST /finetune (Authorization: Bearer $NST_ADMIN_TOKEN) → 202 { id }; then GET /jobs/:id until
 * the job is succeeded, failed, cancelled or interrupted. Prints the final job as one JSON line.
 * Exit 0 when it succeeded; 1 when it failed, was cancelled or interrupted, timed out or could not be started; 2 on bad usage.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { jobSchema, type FinetuneRequestBody, type JobState } from '@nst/contracts';

/** What the trigger reads of a job (GET /jobs/:id): its progress and outcome. */
const followedJobSchema = jobSchema.pick({ id: true, state: true, step: true, steps: true, loss: true, result: true, error: true });
export type FollowedJob = z.infer<typeof followedJobSchema>;

export interface TriggerOptions {
  url: string;
  token: string;
  request: FinetuneRequestBody;
  pollMs?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export class TriggerError extends Error {}
const FINAL: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

export async function triggerAndFollow(o: TriggerOptions): Promise<FollowedJob> {
  const base = o.url.replace(/\/+$/, '');
  const log = o.log ?? ((l: string) => console.error(l));
  const pollMs = o.pollMs ?? 5000;
  const deadline = Date.now() + (o.timeoutMs ?? 2 * 3600_000);
  const auth = { authorization: `Bearer ${o.token}` };

  const res = await fetch(`${base}/finetune`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(o.request),
    signal: AbortSignal.timeout(30_000),
  }).catch((err: Error) => {
    throw new TriggerError(`POST ${base}/finetune failed: ${err.message}`);
  });
  const text = await res.text();
  if (res.status !== 202) throw new TriggerError(`POST /finetune answered ${res.status}: ${text.slice(0, 300)}`);
  const started = jobSchema.pick({ id: true }).safeParse(JSON.parse(text));
  if (!started.success) throw new TriggerError(`POST /finetune gave no job id: ${text.slice(0, 200)}`);
  const { id } = started.data;
  log(`finetune: job ${id} started for ${o.request.model}`);

  let last = '';
  let failures = 0;
  for (;;) {
    if (Date.now() > deadline) throw new TriggerError(`job ${id} did not finish in time (last: ${last || 'unknown'})`);
    let job: FollowedJob | null = null;
    try {
      const r = await fetch(`${base}/jobs/${encodeURIComponent(id)}`, { headers: auth, signal: AbortSignal.timeout(30_000) });
      if (r.status === 404) throw new TriggerError(`job ${id} is unknown to the service (404)`);
      if (!r.ok) throw new Error(`GET /jobs/${id} answered ${r.status}`);
      job = followedJobSchema.parse(await r.json());
      failures = 0;
    } catch (err) {
      if (err instanceof TriggerError) throw err;
      // The service may restart during a long job: tolerate a few failed polls.
      if (++failures >= 5) throw new TriggerError(`could not read job ${id}: ${(err as Error).message}`);
    }
    if (job) {
      const line = `${job.state} ${job.step}/${job.steps}${job.loss !== null ? ` loss=${job.loss}` : ''}`;
      if (line !== last) log(`finetune: job ${id} ${line}`);
      last = line;
      if (FINAL.has(job.state)) return job;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const num = (v: string | undefined, name: string, int = false): number | undefined => {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) throw new TriggerError(`--${name} must be ${int ? 'an integer' : 'a number'}, got "${v}"`);
  return n;
};

export function requestFromArgs(values: Record<string, string | undefined>): FinetuneRequestBody {
  if (!values.model) throw new TriggerError('--model is required');
  const data = values.data as FinetuneRequestBody['data'];
  if (data && !['feedback', 'base', 'both'].includes(data)) throw new TriggerError('--data must be feedback, base or both');
  const publish = values.publish as 'latest' | 'none' | 'canary' | undefined;
  if (publish && !['latest', 'none', 'canary'].includes(publish)) throw new TriggerError('--publish must be latest, none or canary');
  const req: FinetuneRequestBody = {
    model: values.model,
    steps: num(values.steps, 'steps', true),
    batch_size: num(values['batch-size'], 'batch-size', true),
    image_size: num(values['image-size'], 'image-size', true),
    learning_rate: num(values['learning-rate'], 'learning-rate'),
    style_weight: num(values['style-weight'], 'style-weight'),
    content_weight: num(values['content-weight'], 'content-weight'),
    tv_weight: num(values['tv-weight'], 'tv-weight'),
    data,
    publish,
    canary_percent: publish === 'canary' ? num(values['canary-percent'], 'canary-percent', true) : undefined,
  };
  // Unset options are left to the service's defaults.
  return Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as unknown as FinetuneRequestBody;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const opts = ['url', 'model', 'steps', 'batch-size', 'image-size', 'learning-rate', 'style-weight', 'content-weight', 'tv-weight', 'data', 'publish', 'canary-percent', 'poll-ms', 'timeout-s'] as const;
  let values: Record<string, string | undefined>;
  let request: FinetuneRequestBody;
  try {
    ({ values } = parseArgs({ args: argv, options: Object.fromEntries(opts.map((o) => [o, { type: 'string' as const }])) }));
    request = requestFromArgs(values);
  } catch (err) {
    console.error(`finetune-trigger: ${(err as Error).message}`);
    return 2;
  }
  const url = values.url ?? env.NST_FINETUNE_URL;
  const token = env.NST_ADMIN_TOKEN;
  if (!url || !URL.canParse(url)) {
    console.error('finetune-trigger: give --url http://finetune:8005 (or NST_FINETUNE_URL)');
    return 2;
  }
  if (!token) {
    console.error('finetune-trigger: NST_ADMIN_TOKEN is not set (Jenkins: withCredentials nst-admin-token)');
    return 2;
  }
  try {
    const job = await triggerAndFollow({
      url,
      token,
      request,
      pollMs: Number(values['poll-ms'] ?? 5000),
      timeoutMs: Number(values['timeout-s'] ?? 7200) * 1000,
    });
    console.log(JSON.stringify(job));
    if (job.state !== 'succeeded') {
      console.error(`finetune-trigger: job ${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}`);
      return 1;
    }
    console.error(`finetune-trigger: job ${job.id} succeeded → ${job.result?.version ?? 'no version'} (published: ${job.result?.published ?? 'no'})`);
    return 0;
  } catch (err) {
    console.error(`finetune-trigger: ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}

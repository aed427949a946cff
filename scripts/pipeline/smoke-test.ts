/**
 * Smoke test through a base URL (the staging ingress, or a gateway): GET /health, then one real
 * stylisation — upload a photo to POST /api/stylize, check the JSON answer, fetch the stylised
 * image and check it is an image of the announced size.
 *
 *   tsx scripts/pipeline/smoke-test.ts --base-url https://staging.nst.example.com [--model model1] [--image photo.jpg]
 *
 * Without --image a small synthetic photo is made with sharp. Exit 0 when every check passes,
 * 1 otherwise (the failing check is printed), 2 on bad usage.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import type { ModelsResponse, StylizeResult } from '@nst/contracts';

export interface SmokeOptions {
  baseUrl: string;
  model?: string;
  image?: Buffer;
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Sent as X-Client-Id: the client that may rate the result. */
  clientId?: string;
}

export interface SmokeResult {
  model: string;
  version: string;
  output_url: string;
  content_image_filename: string;
  output_image_filename: string;
  width: number;
  height: number;
  request_id: string;
  total_ms: number;
}

export class SmokeFailure extends Error {}

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new SmokeFailure(message);
}

/** A 96×64 colour gradient: a small but real photo-like input. */
export async function syntheticPhoto(): Promise<Buffer> {
  const w = 96;
  const h = 64;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = Math.round((255 * x) / w);
      raw[i + 1] = Math.round((255 * y) / h);
      raw[i + 2] = 128 + Math.round(64 * Math.sin((x + y) / 7));
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export async function smokeTest(o: SmokeOptions): Promise<SmokeResult> {
  const base = o.baseUrl.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 120_000;
  const log = o.log ?? ((l: string) => console.error(l));
  const started = performance.now();

  const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) }).catch((err: Error) => {
    throw new SmokeFailure(`GET ${base}/health failed: ${err.message}`);
  });
  check(health.ok, `GET /health answered ${health.status}`);
  log(`smoke: GET /health → ${health.status}`);

  let model = o.model;
  if (!model) {
    const res = await fetch(`${base}/api/models`, { signal: AbortSignal.timeout(timeoutMs) });
    check(res.ok, `GET /api/models answered ${res.status}`);
    const body = (await res.json()) as Partial<ModelsResponse>;
    model = body.models?.find((m) => m.live_version)?.name ?? body.models?.[0]?.name;
    check(model, 'GET /api/models lists no model');
  }

  const image = o.image ?? (await syntheticPhoto());
  const requestId = `smoke-${randomUUID()}`;
  const form = new FormData();
  form.append('model', model);
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'smoke.jpg');
  const res = await fetch(`${base}/api/stylize`, { method: 'POST', body: form, headers: { 'x-request-id': requestId, ...(o.clientId ? { 'x-client-id': o.clientId } : {}) }, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  check(res.status === 200, `POST /api/stylize answered ${res.status}: ${text.slice(0, 300)}`);
  check(res.headers.get('x-request-id') === requestId, `x-request-id not echoed (sent ${requestId}, got ${res.headers.get('x-request-id')})`);
  // Checked field by field below: a smoke test trusts nothing of the answer.
  let answer: Partial<StylizeResult>;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new SmokeFailure(`POST /api/stylize did not answer JSON: ${text.slice(0, 200)}`);
  }
  check(answer.model === model, `answer names model ${answer.model}, asked ${model}`);
  check(typeof answer.version === 'string' && answer.version.startsWith(`${model}_v`), `answer has no version of ${model}: ${answer.version}`);
  check(typeof answer.output_url === 'string' && answer.output_url.startsWith('/'), `answer has no output_url`);
  check(Number.isInteger(answer.width) && Number.isInteger(answer.height), 'answer has no width/height');
  log(`smoke: POST /api/stylize → ${model} ${answer.version} ${answer.width}×${answer.height}`);

  const out = await fetch(`${base}${answer.output_url}`, { signal: AbortSignal.timeout(timeoutMs) });
  check(out.ok, `GET ${answer.output_url} answered ${out.status}`);
  const bytes = Buffer.from(await out.arrayBuffer());
  const meta = await sharp(bytes)
    .metadata()
    .catch(() => null);
  check(meta && meta.width && meta.height, `${answer.output_url} is not an image`);
  check(meta.width === answer.width && meta.height === answer.height, `output is ${meta.width}×${meta.height}, answer said ${answer.width}×${answer.height}`);
  const stats = await sharp(bytes).stats();
  check(stats.channels.some((c) => c.stdev > 1), 'stylised image is blank');
  log(`smoke: GET ${answer.output_url} → ${meta.format} ${meta.width}×${meta.height}`);

  return {
    model,
    version: answer.version!,
    output_url: answer.output_url!,
    content_image_filename: answer.content_image_filename ?? '',
    output_image_filename: answer.output_image_filename ?? '',
    width: meta.width, height: meta.height, request_id: requestId, total_ms: Math.round(performance.now() - started) };
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { 'base-url': { type: 'string' }, model: { type: 'string' }, image: { type: 'string' }, 'timeout-ms': { type: 'string', default: '120000' } } }));
  } catch (err) {
    console.error(`smoke-test: ${(err as Error).message}`);
    return 2;
  }
  const baseUrl = values['base-url'] ?? process.env.NST_BASE_URL;
  if (!baseUrl || !URL.canParse(baseUrl)) {
    console.error('smoke-test: give --base-url http(s)://host (or NST_BASE_URL)');
    return 2;
  }
  try {
    const image = values.image ? await readFile(values.image) : undefined;
    const result = await smokeTest({ baseUrl, model: values.model, image, timeoutMs: Number(values['timeout-ms']) });
    console.log(JSON.stringify({ ok: true, ...result }));
    return 0;
  } catch (err) {
    console.error(`smoke-test: FAILED: ${(err as Error).message}`);
    console.log(JSON.stringify({ ok: false, error: (err as Error).message }));
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}

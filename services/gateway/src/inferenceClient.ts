/**
 * Forwards images to a model's inference service with undici (one keep-alive pool per
 * replica). Requests alternate between a model's replicas; one that cannot be reached or is
 * stopping (503 with the draining header) is retried once on the next replica, and skipped
 * for a moment after. Every failure becomes an HttpError naming the model, within a bounded time.
 * At most maxInFlight requests per replica are forwarded, what a service runs plus queues;
 * each pool has that many connections, so a request never waits unseen for a socket, and
 * the excess is answered 503 at once instead of after a timeout.
 * Its Retry-After is the model's recent answer time: about when a place frees up for
 * everyone already waiting, so shed clients do not come back in a flood.
 */
import type { Readable } from 'node:stream';
import { Pool, errors, type Dispatcher } from 'undici';
import { DRAINING_HEADER, HttpError, type OutputFormat, type StyleControls } from '@nst/common';
import { INFERENCE_PROGRESS_CONTENT_TYPE as PROGRESS_CONTENT_TYPE, type InferenceReady, type ProgressLine } from '@nst/contracts';
import { REPLICA_SEPARATOR } from './config.ts';

/** How long a replica that failed to connect or is stopping gets no new requests. */
const SKIP_MS = 2_000;
/** Before retrying on the only replica there is (it may be restarting). */
const LONE_RETRY_DELAY_MS = 250;

/** Refused, reset or closed before an answer: the request never ran, or ran nowhere that answered. */
function isConnectionError(err: unknown): boolean {
  if (err instanceof errors.SocketError || err instanceof errors.ClientDestroyedError || err instanceof errors.ClientClosedError) return true;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code);
}

export interface InferenceResult {
  image: Buffer;
  version: string;
  width: number;
  height: number;
  timings: Record<string, number>;
}

export interface InferRequest {
  model: string;
  /** A named version; without one the service uses its live version (the one it verified and loaded). */
  version?: string;
  /** The image bytes, or a function opening a fresh stream of them (an upload on disk), so a retry can send them again. */
  image: Uint8Array | (() => Readable);
  maxSide?: number;
  format: OutputFormat;
  requestId: string;
  /** Aborts the forwarded request (the client went away). */
  signal?: AbortSignal;
  controls: StyleControls;
  /** Uploaded style image id, for the arbitrary-style model. */
  style?: string;
  /** Tiles done so far; when given, the service streams its progress. */
  onProgress?: (done: number, total: number) => void;
}

interface ProgressAnswer {
  headers: Record<string, string>;
  image: Buffer;
}

/** Reads the progress stream: JSON lines, then either an error line or a result line and the image bytes. */
async function readProgressStream(body: AsyncIterable<Buffer>, onProgress: (done: number, total: number) => void): Promise<ProgressAnswer | { error: { statusCode: number; message: string } }> {
  let buffered = Buffer.alloc(0);
  let result: { headers: Record<string, string>; bytes: number } | null = null;
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of body) {
    if (result) {
      chunks.push(chunk);
      received += chunk.length;
      continue;
    }
    buffered = Buffer.concat([buffered, chunk]);
    let nl: number;
    while (!result && (nl = buffered.indexOf(10)) >= 0) {
      const line = JSON.parse(buffered.subarray(0, nl).toString('utf8')) as ProgressLine;
      buffered = buffered.subarray(nl + 1);
      if ('error' in line) return { error: line.error };
      if ('result' in line) {
        result = { headers: line.result, bytes: line.bytes };
        chunks.push(buffered);
        received = buffered.length;
      } else if ('tiles_done' in line) onProgress(line.tiles_done, line.tiles_total);
    }
  }
  if (!result) throw new Error('the progress stream ended without a result');
  if (received !== result.bytes) throw new Error(`the progress stream ended after ${received} of ${result.bytes} image bytes`);
  return { headers: result.headers, image: Buffer.concat(chunks) };
}

export class InferenceClient {
  private readonly pools = new Map<string, Pool>();
  private readonly replicas: Record<string, string[]>;
  private readonly next = new Map<string, number>();
  private readonly skipUntil = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  /** Moving average of successful answer times per model, in ms. */
  private readonly latency = new Map<string, number>();

  constructor(
    urls: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly onUpstreamError: (model: string, reason: string) => void = () => undefined,
    private readonly maxInFlight = 17,
  ) {
    this.replicas = Object.fromEntries(Object.entries(urls).map(([m, u]) => [m, u.split(REPLICA_SEPARATOR)]));
  }

  private pool(url: string): Pool {
    let pool = this.pools.get(url);
    if (!pool) {
      // One more connection than the cap, for the /ready probe.
      pool = new Pool(url, { connections: this.maxInFlight + 1, keepAliveTimeout: 30_000, connectTimeout: Math.min(5_000, this.timeoutMs) });
      this.pools.set(url, pool);
    }
    return pool;
  }

  /** The model's replicas from the next in turn, those not being skipped first. */
  private order(model: string): string[] {
    const urls = this.replicas[model]!;
    const start = this.next.get(model) ?? 0;
    this.next.set(model, (start + 1) % urls.length);
    const turn = urls.map((_, i) => urls[(start + i) % urls.length]!);
    const now = Date.now();
    const usable = (u: string) => (this.skipUntil.get(u) ?? 0) <= now;
    return [...turn.filter(usable), ...turn.filter((u) => !usable(u))];
  }

  /** Requests now forwarded to a model. */
  active(model: string): number {
    return this.inFlight.get(model) ?? 0;
  }

  /** Throws the 503 a request would get now, so that callers can shed before doing any work. */
  checkCapacity(model: string): void {
    const n = this.active(model);
    if (n >= this.maxInFlight * this.replicas[model]!.length) {
      this.onUpstreamError(model, 'shed');
      const retry = Math.min(30, Math.max(1, Math.ceil((this.latency.get(model) ?? 1000) / 1000)));
      throw new HttpError(503, `model ${model} is at capacity (${n} requests in progress); retry in ${retry} s`, { 'retry-after': String(retry) });
    }
  }

  async infer(r: InferRequest): Promise<InferenceResult> {
    this.checkCapacity(r.model);
    this.inFlight.set(r.model, this.active(r.model) + 1);
    const started = performance.now();
    try {
      const result = await this.forward(r);
      const ms = performance.now() - started;
      this.latency.set(r.model, 0.8 * (this.latency.get(r.model) ?? ms) + 0.2 * ms);
      return result;
    } finally {
      this.inFlight.set(r.model, this.active(r.model) - 1);
    }
  }

  private async forward(r: InferRequest): Promise<InferenceResult> {
    const query = new URLSearchParams({ format: r.format, strength: String(r.controls.strength), preserve_colors: String(r.controls.preserveColors) });
    if (r.version) query.set('version', r.version);
    if (r.maxSide) query.set('max_size', String(r.maxSide));
    if (r.onProgress) query.set('progress', '1');
    if (r.style) query.set('style', r.style);
    const [first, second] = this.order(r.model);
    type Answer = { res: Dispatcher.ResponseData; body: Buffer; streamed: Record<string, string> | null };
    const attempt = async (url: string, failOver: boolean): Promise<Answer | { retry: unknown }> => {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.pool(url).request({
          method: 'POST',
          path: `/infer?${query}`,
          body: typeof r.image === 'function' ? r.image() : r.image,
          headers: { 'content-type': 'application/octet-stream', 'x-request-id': r.requestId },
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          signal: r.signal ? AbortSignal.any([r.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        if (r.signal?.aborted || !isConnectionError(err)) throw this.unavailable(r, err);
        this.skipUntil.set(url, Date.now() + SKIP_MS);
        return { retry: err };
      }
      let body: Buffer;
      let streamed: Record<string, string> | null = null;
      try {
        if (res.statusCode === 200 && r.onProgress && String(res.headers['content-type']).startsWith(PROGRESS_CONTENT_TYPE)) {
          const answer = await readProgressStream(res.body, r.onProgress);
          if ('error' in answer) {
            const status = answer.error.statusCode >= 500 ? 503 : answer.error.statusCode;
            throw new HttpError(status, status === 503 ? `model ${r.model}: ${answer.error.message}` : answer.error.message);
          }
          streamed = answer.headers;
          body = answer.image;
        } else {
          body = Buffer.from(await res.body.arrayBuffer());
        }
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw this.unavailable(r, err);
      }
      if (res.statusCode === 503 && res.headers[DRAINING_HEADER]) {
        this.skipUntil.set(url, Date.now() + SKIP_MS);
        return { retry: new Error(`${url} is shutting down`) };
      }
      // Any other 503 (starting, busy) is worth one try on another replica, when there is one.
      if (res.statusCode === 503 && failOver) return { retry: new Error(`${url} answered 503`) };
      return { res, body, streamed };
    };
    let outcome = await attempt(first!, second !== undefined);
    if ('retry' in outcome) {
      if (!second) await new Promise((resolve) => setTimeout(resolve, LONE_RETRY_DELAY_MS));
      outcome = await attempt(second ?? first!, false);
      if ('retry' in outcome) throw this.unavailable(r, outcome.retry);
    }
    const { res, body, streamed } = outcome;
    const header = (name: string) => {
      if (streamed) return streamed[name];
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    if (res.statusCode !== 200) {
      let message = `inference for ${r.model} failed with HTTP ${res.statusCode}`;
      try {
        message = (JSON.parse(body.toString('utf8')) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the generic message
      }
      const status = res.statusCode >= 500 ? 503 : res.statusCode;
      if (status === 503) this.onUpstreamError(r.model, res.statusCode === 503 ? 'busy' : 'error');
      const retry = header('retry-after');
      throw new HttpError(status, status === 503 ? `model ${r.model}: ${message}` : message, retry ? { 'retry-after': retry } : {});
    }
    const timings: Record<string, number> = {};
    for (const key of ['decode', 'queue', 'inference', 'encode']) {
      const v = Number(header(`x-timing-${key}-ms`));
      if (Number.isFinite(v)) timings[`${key}_ms`] = v;
    }
    return {
      image: body,
      version: header('x-model-version') ?? r.version ?? 'unknown',
      width: Number(header('x-image-width')),
      height: Number(header('x-image-height')),
      timings,
    };
  }

  /** GET /ready of a model's replicas, with a short bound: ready when one of them is. */
  async ready(model: string, timeoutMs = 1_000): Promise<{ ready: boolean; version?: string; failed?: unknown; error?: string; replicas?: number }> {
    const urls = this.replicas[model]!;
    const answers = await Promise.all(
      urls.map(async (url) => {
        try {
          const res = await this.pool(url).request({ method: 'GET', path: '/ready', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
          const body = (await res.body.json()) as Partial<InferenceReady>;
          // `failed`: a version latest.txt names that the service refused to switch to.
          return { ready: res.statusCode === 200, version: body.version, ...(body.failed ? { failed: body.failed } : {}) };
        } catch (err) {
          return { ready: false, error: (err as Error).message };
        }
      }),
    );
    const up = answers.filter((a) => a.ready);
    const summary = up[0] ?? answers[0]!;
    return urls.length > 1 ? { ...summary, ready: up.length > 0, replicas: up.length } : summary;
  }

  private unavailable(r: InferRequest, err: unknown): HttpError {
    const model = r.model;
    if (r.signal?.aborted) return new HttpError(499, 'the client closed the connection');
    const timedOut = err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || (err as Error).name === 'TimeoutError' || err instanceof errors.ConnectTimeoutError;
    this.onUpstreamError(model, timedOut ? 'timeout' : 'unreachable');
    const why = timedOut ? `did not answer within ${Math.round(this.timeoutMs / 1000)} s` : 'is not reachable';
    return new HttpError(503, `the inference service for model ${model} ${why}; try again shortly`, { 'retry-after': '5' });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/**
 * Forwards images to a model's inference service with undici (one keep-alive pool per
 * service). Every failure becomes an HttpError naming the model, within a bounded time.
 */
import { Pool, errors } from 'undici';
import { HttpError, type OutputFormat, type StyleControls } from '@nst/common';

export interface InferenceResult {
  image: Buffer;
  version: string;
  width: number;
  height: number;
  timings: Record<string, number>;
}

export interface InferRequest {
  model: string;
  version: string;
  image: Uint8Array;
  maxSide?: number;
  format: OutputFormat;
  requestId: string;
  controls: StyleControls;
  /** Uploaded style image id, for the arbitrary-style model. */
  style?: string;
  /** Tiles done so far; when given, the service streams its progress. */
  onProgress?: (done: number, total: number) => void;
}

/** Content type of the inference service's progress stream (see inference/src/app.ts). */
const PROGRESS_CONTENT_TYPE = 'application/x-nst-progress';

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
      const line = JSON.parse(buffered.subarray(0, nl).toString('utf8')) as { tiles_done?: number; tiles_total?: number; result?: Record<string, string>; bytes?: number; error?: { statusCode: number; message: string } };
      buffered = buffered.subarray(nl + 1);
      if (line.error) return { error: line.error };
      if (line.result) {
        result = { headers: line.result, bytes: line.bytes ?? 0 };
        chunks.push(buffered);
        received = buffered.length;
      } else if (line.tiles_done !== undefined) onProgress(line.tiles_done, line.tiles_total ?? line.tiles_done);
    }
  }
  if (!result) throw new Error('the progress stream ended without a result');
  if (received !== result.bytes) throw new Error(`the progress stream ended after ${received} of ${result.bytes} image bytes`);
  return { headers: result.headers, image: Buffer.concat(chunks) };
}

export class InferenceClient {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly urls: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly onUpstreamError: (model: string, reason: string) => void = () => undefined,
  ) {}

  private pool(model: string): Pool {
    let pool = this.pools.get(model);
    if (!pool) {
      pool = new Pool(this.urls[model]!, { connections: 16, keepAliveTimeout: 30_000, connectTimeout: Math.min(5_000, this.timeoutMs) });
      this.pools.set(model, pool);
    }
    return pool;
  }

  async infer(r: InferRequest): Promise<InferenceResult> {
    const query = new URLSearchParams({ version: r.version, format: r.format, strength: String(r.controls.strength), preserve_colors: String(r.controls.preserveColors) });
    if (r.maxSide) query.set('max_size', String(r.maxSide));
    if (r.onProgress) query.set('progress', '1');
    if (r.style) query.set('style', r.style);
    let res;
    try {
      res = await this.pool(r.model).request({
        method: 'POST',
        path: `/infer?${query}`,
        body: r.image,
        headers: { 'content-type': 'application/octet-stream', 'x-request-id': r.requestId },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unavailable(r.model, err);
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
      throw this.unavailable(r.model, err);
    }
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
      version: header('x-model-version') ?? r.version,
      width: Number(header('x-image-width')),
      height: Number(header('x-image-height')),
      timings,
    };
  }

  /** GET /ready of a model's service, with a short bound. */
  async ready(model: string, timeoutMs = 1_000): Promise<{ ready: boolean; version?: string; error?: string }> {
    try {
      const res = await this.pool(model).request({ method: 'GET', path: '/ready', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.body.json()) as { version?: string };
      return { ready: res.statusCode === 200, version: body.version };
    } catch (err) {
      return { ready: false, error: (err as Error).message };
    }
  }

  private unavailable(model: string, err: unknown): HttpError {
    const timedOut = err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || (err as Error).name === 'TimeoutError' || err instanceof errors.ConnectTimeoutError;
    this.onUpstreamError(model, timedOut ? 'timeout' : 'unreachable');
    const why = timedOut ? `did not answer within ${Math.round(this.timeoutMs / 1000)} s` : 'is not reachable';
    return new HttpError(503, `the inference service for model ${model} ${why}; try again shortly`, { 'retry-after': '5' });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

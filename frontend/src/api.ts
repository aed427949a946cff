/** Typed calls to the gateway's JSON API (same origin, relative URLs). */
import type { UiConfig, ErrorBody, FeedbackRequest, FeedbackResponse, ModelInfo, ModelsResponse, OutputFormat, StyleImage, StyleList, StylizeFinalLine, StylizeProgressLine, StylizeResult } from '@nst/contracts';


export type { FeedbackRequest, FeedbackResponse, ModelInfo, OutputFormat, StyleImage, StylizeResult };

/** A line of the stylise progress stream, read before it is known which kind it is. */
type StreamLine = Partial<StylizeProgressLine> & Partial<Extract<StylizeFinalLine, { result: unknown }>> & Partial<Extract<StylizeFinalLine, { error: unknown }>>;

export interface StylizeOptions {
  image: File;
  model: string;
  maxSize?: number;
  format?: OutputFormat;
  /** Uploaded painting id, for an arbitrary-style model. */
  style?: string;
  strength?: number;
  preserveColors?: boolean;
  /** Tiles done of a large photo, as the server reports them. */
  onTiles?: (done: number, total: number) => void;
  /** Upload progress, 0..1; called with 1 once the whole file is sent. */
  onUploadProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/** An error reported by the gateway (`{ statusCode, error, message, request_id }`) or by the network. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function fallbackMessage(status: number): string {
  if (status === 0) return 'Could not reach the server. Check your connection and try again.';
  if (status === 413) return 'The image is too large.';
  if (status === 503) return 'The style service is busy or unavailable. Please try again shortly.';
  if (status >= 500) return `The server had a problem (HTTP ${status}).`;
  return `The request failed (HTTP ${status}).`;
}

/** Builds an ApiError from a response body (JSON error object, or anything else). */
export function errorFromBody(status: number, bodyText: string): ApiError {
  let body: Partial<ErrorBody> | undefined;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (parsed && typeof parsed === 'object') body = parsed as Partial<ErrorBody>;
  } catch {
    body = undefined;
  }
  const message = typeof body?.message === 'string' && body.message.trim() ? body.message : fallbackMessage(status);
  return new ApiError(message, status, body?.request_id);
}

async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { Accept: 'application/json', ...init?.headers } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(fallbackMessage(0), 0);
  }
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, text);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('The server sent a response the page could not read.', res.status);
  }
}

/** The server's upload limits (GET /api/config). */
export function getUiConfig(): Promise<UiConfig> {
  return fetchJson<UiConfig>('/api/config');
}

export async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
  return (await fetchJson<ModelsResponse>('/api/models', { signal })).models;
}

/**
 * Uploads an image to be stylised. Uses XMLHttpRequest rather than fetch so the page can
 * show upload progress for large photos.
 */
export function stylize(opts: StylizeOptions): Promise<StylizeResult> {
  const form = new FormData();
  form.append('model', opts.model);
  if (opts.maxSize !== undefined) form.append('max_size', String(opts.maxSize));
  if (opts.format) form.append('format', opts.format);
  if (opts.style) form.append('style', opts.style);
  if (opts.strength !== undefined) form.append('strength', String(opts.strength));
  if (opts.preserveColors) form.append('preserve_colors', 'true');
  form.append('image', opts.image, opts.image.name || 'image');

  return new Promise<StylizeResult>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/stylize');
    // Progress stream: JSON lines of tiles done, then {"result"} or {"error"}.
    xhr.setRequestHeader('Accept', 'application/x-ndjson, application/json');
    let seen = 0;
    const lines = (): StreamLine[] => {
      const text = xhr.responseText;
      const end = text.lastIndexOf('\n');
      if (end < seen) return [];
      const out = text
        .slice(seen, end)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StreamLine);
      seen = end + 1;
      return out;
    };
    const streamed = () => (xhr.getResponseHeader('content-type') ?? '').includes('ndjson');
    let final: StreamLine | undefined;
    const consume = () => {
      for (const l of lines()) {
        if (typeof l.tiles_done === 'number') opts.onTiles?.(l.tiles_done, Number(l.tiles_total));
        else final = l;
      }
    };
    xhr.addEventListener('progress', () => {
      if (xhr.status === 200 && streamed()) consume();
    });
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) opts.onUploadProgress?.(e.loaded / e.total);
    });
    xhr.upload.addEventListener('load', () => opts.onUploadProgress?.(1));
    xhr.addEventListener('load', () => {
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(errorFromBody(xhr.status, xhr.responseText));
        return;
      }
      try {
        if (!streamed()) {
          resolve(JSON.parse(xhr.responseText) as StylizeResult);
          return;
        }
        if (!xhr.responseText.endsWith('\n')) seen = Math.min(seen, xhr.responseText.length);
        consume();
        const tail = xhr.responseText.slice(seen).trim();
        if (tail) final = JSON.parse(tail) as StreamLine;
        const error = final?.error;
        if (error) reject(new ApiError(error.message ?? fallbackMessage(error.statusCode ?? 500), error.statusCode ?? 500));
        else if (final?.result) resolve(final.result);
        else reject(new ApiError('The server sent a response the page could not read.', xhr.status));
      } catch {
        reject(new ApiError('The server sent a response the page could not read.', xhr.status));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(fallbackMessage(0), 0)));
    xhr.addEventListener('abort', () => reject(new DOMException('Cancelled', 'AbortError')));
    if (opts.signal) {
      if (opts.signal.aborted) {
        reject(new DOMException('Cancelled', 'AbortError'));
        return;
      }
      opts.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

export async function listStyles(): Promise<StyleImage[]> {
  return (await fetchJson<StyleList>('/api/styles')).styles;
}

export function uploadStyle(image: File, title?: string): Promise<StyleImage> {
  const form = new FormData();
  form.append('image', image, image.name || 'painting');
  if (title) form.append('title', title);
  return fetchJson<StyleImage>('/api/styles', { method: 'POST', body: form });
}

export function sendFeedback(req: FeedbackRequest): Promise<FeedbackResponse> {
  return fetchJson<FeedbackResponse>('/api/feedback', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(req),
  });
}

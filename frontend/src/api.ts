/** Typed calls to the gateway's JSON API (same origin, relative URLs). */

export interface ModelInfo {
  name: string;
  style: string;
  title: string;
  artist: string;
  live_version: string | null;
  versions: string[];
  /** A candidate version getting a share of traffic (A/B), if any. */
  canary?: { version: string; percent: number } | null;
  style_image_url: string;
  thumbnail_url: string;
}

export interface StylizeResult {
  model: string;
  version: string;
  content_image_filename: string;
  output_image_filename: string;
  input_url: string;
  output_url: string;
  width: number;
  height: number;
  timings: { total_ms: number; inference_ms?: number; [k: string]: number | undefined };
  request_id?: string;
}

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface StylizeOptions {
  image: File;
  model: string;
  maxSize?: number;
  format?: OutputFormat;
  /** Upload progress, 0..1; called with 1 once the whole file is sent. */
  onUploadProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export interface FeedbackRequest {
  feedback: 'good' | 'bad';
  model: string;
  content_image_filename: string;
  output_image_filename: string;
  timestamp: string;
  comment?: string;
}

export interface FeedbackResponse {
  status: string;
  version?: string;
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

interface ErrorBody {
  statusCode?: number;
  error?: string;
  message?: string;
  request_id?: string;
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
  let body: ErrorBody | undefined;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (parsed && typeof parsed === 'object') body = parsed as ErrorBody;
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

export async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
  const body = await fetchJson<{ models: ModelInfo[] }>('/api/models', { signal });
  return Array.isArray(body.models) ? body.models : [];
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
  form.append('image', opts.image, opts.image.name || 'image');

  return new Promise<StylizeResult>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/stylize');
    xhr.setRequestHeader('Accept', 'application/json');
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
        resolve(JSON.parse(xhr.responseText) as StylizeResult);
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

export function sendFeedback(req: FeedbackRequest): Promise<FeedbackResponse> {
  return fetchJson<FeedbackResponse>('/api/feedback', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(req),
  });
}

/** Calls the fine-tuning service with the admin token (operator page proxy, feedback loop). */
import { request } from 'undici';
import { HttpError } from '@nst/common';
import { jobSchema, type FinetuneRequestBody, type Job } from '@nst/contracts';

/** The one request the gateway makes of the fine-tuning service: over HTTP, or an in-process stand-in in tests. */
export interface FinetuneCalls {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

/** The fine-tuning service over HTTP, with the admin token. */
export function finetuneOverHttp(baseUrl: string, token: string, timeoutMs = 10_000): FinetuneCalls {
  return {
    async call(method, path, body) {
      try {
        const res = await request(`${baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const text = await res.body.text();
        return { status: res.statusCode, body: text ? JSON.parse(text) : null };
      } catch (err) {
        throw new HttpError(503, `the fine-tuning service is not reachable: ${(err as Error).message}`);
      }
    },
  };
}

/** What the gateway asks of the fine-tuning service (the operator page's proxy and the loop), read through the job contract. */
export class FinetuneClient implements FinetuneCalls {
  constructor(private readonly calls: FinetuneCalls) {}

  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    return this.calls.call(method, path, body);
  }

  /** POST /finetune: the queued job (202), or null with the service's answer. */
  async start(body: FinetuneRequestBody): Promise<{ job: Job | null; status: number; body: unknown }> {
    const res = await this.call('POST', '/finetune', body);
    return { ...res, job: res.status === 202 ? jobSchema.parse(res.body) : null };
  }

  /** GET /jobs/:id; null when the service does not know the job. */
  async job(id: string): Promise<Job | null> {
    const res = await this.call('GET', `/jobs/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new HttpError(502, `the fine-tuning service answered ${res.status} for job ${id}`);
    return jobSchema.parse(res.body);
  }
}

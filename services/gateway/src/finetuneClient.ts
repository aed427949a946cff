/** Calls the fine-tuning service with the admin token (operator page proxy, feedback loop). */
import { request } from 'undici';
import { HttpError } from '@nst/common';
import { jobSchema, type FinetuneRequestBody, type Job } from '@nst/contracts/finetune';

export class FinetuneClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    try {
      const res = await request(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text ? JSON.parse(text) : null };
    } catch (err) {
      throw new HttpError(503, `the fine-tuning service is not reachable: ${(err as Error).message}`);
    }
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

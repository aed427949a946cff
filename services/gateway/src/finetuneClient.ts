/** Calls the fine-tuning service with the admin token (operator page proxy, feedback loop). */
import { request } from 'undici';
import { HttpError } from '@nst/common';

/** What the gateway asks of the fine-tuning service (the operator page's proxy and the loop). */
export interface FinetuneCalls {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

export class FinetuneClient implements FinetuneCalls {
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
}

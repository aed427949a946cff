/** Calls the fine-tuning service with the admin token (operator page proxy, feedback loop). */
import { request } from 'undici';
import { HttpError } from '@nst/common';

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
}

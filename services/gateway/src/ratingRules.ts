/**
 * Who may rate an output, and how a rating's time is read. Only the client that produced
 * an output (its record names the client) may rate it, so nobody rates other people's
 * results, or results of a version they were never served.
 */
import { HttpError } from '@nst/common';
import type { OutputRecord } from '@nst/contracts';

export function requireProducingClient(record: OutputRecord, clientId: string | null, output: string): string {
  if (!clientId) throw new HttpError(403, `rate ${output} as the client that made it: send its X-Client-Id header or nst_client cookie`);
  if (!record.client_id || record.client_id !== clientId) throw new HttpError(403, `${output} was not made by this client; only its maker can rate it`);
  return clientId;
}

/** An ISO-8601 date, or epoch milliseconds as a number or a string of digits. */
export function parseClientTime(timestamp: string | number): Date {
  const t = typeof timestamp === 'number' || /^\d{1,15}$/.test(timestamp.trim()) ? new Date(Number(timestamp)) : new Date(timestamp);
  if (Number.isNaN(t.getTime())) throw new HttpError(400, 'timestamp must be an ISO-8601 date or epoch milliseconds');
  return t;
}

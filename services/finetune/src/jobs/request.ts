/** How many steps a request runs, and zod's problems as one readable line. */
import type { z } from 'zod';
import type { FinetuneRequest } from '@nst/contracts';

/** Steps to run: given, or epochs over the dataset; default 200. */
export function stepsFor(r: FinetuneRequest, images: number): number {
  if (r.steps !== undefined) return r.steps;
  if (r.epochs !== undefined) return Math.max(1, Math.ceil((r.epochs * images) / r.batch_size));
  return 200;
}

/** One readable line per problem. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/** GET /ready of the gateway: whether it can serve, and what each model's inference service says. */
import { z } from 'zod';

export const storeHealthSchema = z.object({ ok: z.boolean(), backend: z.enum(['file', 'postgres']), detail: z.string().optional() });
export type StoreHealth = z.infer<typeof storeHealthSchema>;

/** One model's inference service(s), as the gateway reached them. */
export const upstreamReadinessSchema = z.object({
  ready: z.boolean(),
  version: z.string().optional(),
  /** A version latest.txt names that the service refused to switch to. */
  failed: z.unknown().optional(),
  error: z.string().optional(),
  /** With several replicas: how many are ready. */
  replicas: z.number().int().optional(),
});
export type UpstreamReadiness = z.infer<typeof upstreamReadinessSchema>;

export const readinessSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    reason: z.string().optional(),
    models: z.record(z.string(), upstreamReadinessSchema),
    store: storeHealthSchema,
  })
  .meta({ id: 'Readiness' });
export type Readiness = z.infer<typeof readinessSchema>;

/** /ready of any service once it has begun to stop (httpService.ts). */
export const drainingSchema = z.object({ status: z.literal('draining'), service: z.string() });

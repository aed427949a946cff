/**
 * A model's routing policy: an optional candidate version taking a share of traffic (canary),
 * and the entries of its release history. Kept by the platform store (store/), changed only
 * by the release owner (release.ts).
 */
import { z } from 'zod';

export const routingPolicySchema = z.object({
  candidate: z.string().nullable(),
  percent: z.number().min(0).max(100),
  updated_at: z.string(),
  updated_by: z.string(),
  reason: z.string().optional(),
});
export type RoutingPolicy = z.infer<typeof routingPolicySchema>;

export const NO_CANARY: RoutingPolicy = { candidate: null, percent: 0, updated_at: new Date(0).toISOString(), updated_by: 'default' };

export interface HistoryEntry {
  at: string;
  model: string;
  action: 'canary' | 'canary_end' | 'promote' | 'rollback' | 'publish';
  from: string | null;
  to: string | null;
  percent?: number;
  actor: string;
  reason?: string;
}

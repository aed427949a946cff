/** The gateway's admin actions (bearer NST_ADMIN_TOKEN): canary, promote, rollback. */
import { z } from 'zod';
import { historyEntrySchema } from './records.ts';

const reason = z.string().max(500).optional().describe('Why, for the release history');
const version = z.string().max(64);

export const canaryRequestSchema = z
  .strictObject({
    version: version.optional().describe('The candidate (default: the newest version)'),
    percent: z.number().min(0).max(100).describe('Share of traffic; 0 ends the canary'),
    reason,
  })
  .meta({ id: 'CanaryRequest' });
export type CanaryRequest = z.infer<typeof canaryRequestSchema>;

export const promoteRequestSchema = z.strictObject({ reason }).meta({ id: 'PromoteRequest' });
export type PromoteRequest = z.infer<typeof promoteRequestSchema>;

export const rollbackRequestSchema = z
  .strictObject({ version: version.optional().describe('The version to make live (absent: drop the canary candidate)'), reason })
  .meta({ id: 'RollbackRequest' });
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;

/** What an admin action changed, as the release history records it. */
export const releaseChangeSchema = z.object({ change: historyEntrySchema }).meta({ id: 'ReleaseChange' });
export type ReleaseChange = z.infer<typeof releaseChangeSchema>;


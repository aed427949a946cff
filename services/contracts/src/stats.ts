/** GET /api/models/:model/stats and /history: how each version is doing, and what changed. */
import { z } from 'zod';
import { historyEntrySchema } from './records.ts';

export const hourlyCountSchema = z.object({ hour: z.string(), good: z.number().int(), bad: z.number().int() });
export type HourlyCount = z.infer<typeof hourlyCountSchema>;

export const versionStatsSchema = z
  .object({
    version: z.string(),
    parent: z.string().nullable(),
    created_at: z.string().nullable(),
    /** How the version was made (the model card's source.kind). */
    source: z.string().nullable(),
    metrics: z.record(z.string(), z.unknown()),
    requests: z.number().int(),
    good: z.number().int(),
    bad: z.number().int(),
    rated: z.number().int(),
    /** Distinct clients whose rating counts, and those among them who rated bad. */
    raters: z.number().int(),
    bad_raters: z.number().int(),
    /** bad / rated (0 while nothing is rated), with its 95% Wilson interval. */
    bad_rate: z.number(),
    bad_rate_ci95: z.tuple([z.number(), z.number()]),
    /** The first request or rating seen for this version. */
    since: z.string().nullable(),
    hourly: z.array(hourlyCountSchema),
  })
  .meta({ id: 'VersionStats' });
export type VersionStats = z.infer<typeof versionStatsSchema>;

export const canaryStateSchema = z.object({ version: z.string(), percent: z.number(), since: z.string(), by: z.string() });
export type CanaryState = z.infer<typeof canaryStateSchema>;

export const modelStatsSchema = z
  .object({
    model: z.string(),
    live_version: z.string().nullable(),
    canary: canaryStateSchema.nullable(),
    versions: z.array(versionStatsSchema),
  })
  .meta({ id: 'ModelStats' });
export type ModelStats = z.infer<typeof modelStatsSchema>;

export const modelHistorySchema = z.object({ model: z.string(), history: z.array(historyEntrySchema) });
export type ModelHistory = z.infer<typeof modelHistorySchema>;

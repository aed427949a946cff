/** GET /api/models/:model/stats and /history: how each version is doing, and what changed. */
import { badRate, versionName, wilsonInterval } from '@nst/common';
import { modelHistorySchema, modelParamsSchema, modelStatsSchema, type ModelStats } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { knownModelHook } from '../knownModel.ts';
import { errorResponses, type GatewayApp } from '../typedRoutes.ts';

export async function modelStats(ctx: GatewayContext, model: string): Promise<ModelStats> {
  const [live, policy, numbers, counts] = await Promise.all([ctx.resolver.live(model), ctx.platform.policy(model), ctx.store.versions(model), ctx.platform.versionCounts(model)]);
  const byVersion = new Map(counts.map((c) => [c.version, c]));
  const versions = await Promise.all(
    numbers.map(async (n) => {
      const version = versionName(model, n);
      const c = byVersion.get(version);
      const card = await ctx.store.card(model, version).catch(() => null);
      const good = c?.good ?? 0;
      const bad = c?.bad ?? 0;
      return {
        version,
        parent: card?.parent ?? null,
        created_at: card?.created_at ?? null,
        source: typeof card?.source.kind === 'string' ? card.source.kind : null,
        metrics: card?.metrics ?? {},
        requests: c?.requests ?? 0,
        good,
        bad,
        rated: good + bad,
        raters: c?.raters ?? 0,
        bad_raters: c?.badRaters ?? 0,
        bad_rate: badRate({ good, bad }),
        bad_rate_ci95: wilsonInterval(bad, good + bad),
        since: c?.since ?? null,
        hourly: [...(c?.hourly ?? new Map<string, [number, number]>())].sort(([a], [b]) => a.localeCompare(b)).map(([hour, [g, b]]) => ({ hour, good: g, bad: b })),
      };
    }),
  );
  return {
    model,
    live_version: live,
    canary: policy.candidate && policy.percent > 0 ? { version: policy.candidate, percent: policy.percent, since: policy.updated_at, by: policy.updated_by } : null,
    versions,
  };
}

export function statsRoutes(app: GatewayApp, ctx: GatewayContext): void {
  const preHandler = knownModelHook(ctx.modelNames);
  app.get(
    '/api/models/:model/stats',
    {
      preHandler,
      schema: {
        summary: 'Per version: requests served, good and bad ratings, bad rate with a 95% Wilson interval',
        params: modelParamsSchema,
        response: { 200: modelStatsSchema, ...errorResponses(404) },
      },
    },
    async (req) => modelStats(ctx, req.params.model),
  );
  app.get(
    '/api/models/:model/history',
    { preHandler, schema: { summary: 'Every routing change of the model: canary, promote, rollback, publish', params: modelParamsSchema, response: { 200: modelHistorySchema, ...errorResponses(404) } } },
    async (req) => ({ model: req.params.model, history: await ctx.platform.history(req.params.model) }),
  );
}

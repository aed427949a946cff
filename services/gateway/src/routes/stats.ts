/** GET /api/models/:model/stats and /history: how each version is doing, and what changed. */
import type { FastifyInstance } from 'fastify';
import { HttpError, badRate, versionName, wilsonInterval } from '@nst/common';
import type { GatewayContext } from '../context.ts';

export async function modelStats(ctx: GatewayContext, model: string) {
  const [live, policy, numbers, counts] = await Promise.all([ctx.resolver.live(model), ctx.platform.policy(model), ctx.store.versions(model), ctx.platform.versionCounts(model)]);
  const byVersion = new Map(counts.map((c) => [c.version, c]));
  const versions = await Promise.all(
    numbers.map(async (n) => {
      const version = versionName(model, n);
      const c = byVersion.get(version);
      const card = await ctx.store.card(model, version).catch(() => null);
      const good = c?.good ?? 0;
      const bad = c?.bad ?? 0;
      const [lo, hi] = wilsonInterval(bad, good + bad);
      return {
        version,
        parent: card?.parent ?? null,
        created_at: card?.created_at ?? null,
        source: (card?.source as { kind?: string } | undefined)?.kind ?? null,
        metrics: card?.metrics ?? {},
        requests: c?.requests ?? 0,
        good,
        bad,
        rated: good + bad,
        raters: c?.raters ?? 0,
        bad_raters: c?.badRaters ?? 0,
        bad_rate: badRate({ good, bad }),
        bad_rate_ci95: [lo, hi],
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

export function statsRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const known = (model: string) => {
    if (!ctx.modelNames.has(model)) throw new HttpError(404, `unknown model "${model}"`);
  };
  app.get('/api/models/:model/stats', { schema: { summary: 'Per version: requests served, good and bad ratings, bad rate with a 95% Wilson interval' } }, async (req) => {
    const { model } = req.params as { model: string };
    known(model);
    return modelStats(ctx, model);
  });
  app.get('/api/models/:model/history', { schema: { summary: 'Every routing change of the model: canary, promote, rollback, publish' } }, async (req) => {
    const { model } = req.params as { model: string };
    known(model);
    return { model, history: await ctx.platform.history(model) };
  });
}

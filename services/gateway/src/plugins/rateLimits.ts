/**
 * Request rates per client and per IP on the routes that feed the ML loop (stylise and
 * rate), with @fastify/rate-limit: over the limit the answer is 429 with Retry-After. The
 * per-client limit keys on X-Client-Id or the nst_client cookie; the per-IP limit, a few
 * times larger so clients behind one address are not starved, catches clients that make
 * up a new id per request. A limit of 0 switches it off (load tests).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { HttpError } from '@nst/common';
import { knownClientId } from '../clientId.ts';

export interface RateLimits {
  /** Route path → requests per minute per client; 0 = unlimited. */
  perMinute: Record<string, number>;
  clientsPerIp: number;
}

export async function rateLimitsPlugin(app: FastifyInstance, limits: RateLimits): Promise<void> {
  await app.register(rateLimit, { global: false });
  const hooks = new Map<string, onRequestHookHandler>();
  for (const [url, max] of Object.entries(limits.perMinute)) {
    if (max <= 0) continue;
    const checks = [
      { what: 'client', max, check: app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (req) => `client:${url}:${knownClientId(req) ?? `ip:${req.ip}`}` }) },
      { what: 'address', max: max * limits.clientsPerIp, check: app.createRateLimit({ max: max * limits.clientsPerIp, timeWindow: 60_000, keyGenerator: (req) => `ip:${url}:${req.ip}` }) },
    ];
    hooks.set(url, async (req, reply) => {
      for (const c of checks) {
        const r = await c.check(req);
        if (r.isAllowed || !r.isExceeded) continue;
        void reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', 0);
        throw new HttpError(429, `too many requests to ${url} from this ${c.what}: at most ${c.max} a minute; retry in ${r.ttlInSeconds} s`, {
          'retry-after': String(r.ttlInSeconds),
        });
      }
    });
  }
  // Routes declared after this plugin get their limits attached here, so they need no changes.
  app.addHook('onRoute', (route) => {
    const extra = hooks.get(route.url);
    if (!extra) return;
    const own = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
    route.onRequest = [extra, ...own];
  });
}

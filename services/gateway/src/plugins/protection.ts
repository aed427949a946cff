/**
 * Process-wide protection of the gateway: security headers with a Content-Security-Policy
 * both pages pass (@fastify/helmet; the same policy as the nginx front in containers), and
 * back-pressure (@fastify/under-pressure): while the event loop lags past the limit every
 * request is answered 503 + Retry-After at once, so an overloaded gateway sheds instead of
 * stalling everyone.
 */
import helmet from '@fastify/helmet';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '@nst/common';

export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'style-src': ["'self'", "'unsafe-inline'"],
  'script-src': ["'self'"],
  'connect-src': ["'self'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'object-src': ["'none'"],
};

const PROBES = new Set(['/health', '/ready', '/metrics']);

export async function protectionPlugin(app: FastifyInstance, o: { maxEventLoopDelayMs: number }): Promise<void> {
  await app.register(helmet, {
    // The local stack is plain http: no upgrade of its own requests, no HSTS.
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    strictTransportSecurity: false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
  });
  await app.register(underPressure, {
    maxEventLoopDelay: o.maxEventLoopDelayMs,
    // Probes and scrapes still answer: an overloaded gateway is busy, not dead.
    pressureHandler: async (req, _reply, type) => {
      if (PROBES.has(req.url.split('?')[0]!)) return;
      throw new HttpError(503, `the gateway is overloaded (${type}); retry shortly`, { 'retry-after': '1' });
    },
  });
}

/**
 * What every HTTP service of the platform shares: ECS JSON logs, a request id taken from
 * X-Request-Id (or made) and echoed back, JSON errors, /health, Prometheus /metrics, and a
 * graceful stop: on SIGTERM /ready turns 503, new connections are refused, requests in
 * flight finish (within a grace period), then the process exits.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { loggerOptions } from './logger.ts';

const REQUEST_ID_HEADER = 'x-request-id';
/** Set on the 503 a stopping service gives new requests: safe to retry on another replica. */
export const DRAINING_HEADER = 'x-nst-draining';
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ServiceOptions {
  service: string;
  logLevel?: string;
  bodyLimit?: number;
  fastify?: Partial<FastifyServerOptions>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
    /** True once the service has begun to stop: it reports not-ready and takes no new work. */
    draining: boolean;
  }
}

export function createService(opts: ServiceOptions): FastifyInstance {
  const app = Fastify({
    logger: loggerOptions(opts.service, opts.logLevel),
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    // One log line per request (below), not two; probes and scrapes only at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit,
    // While closing: idle keep-alive connections are closed, requests in flight finish; the
    // onRequest hook below answers anything new (DRAINING_HEADER) so callers retry elsewhere.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    ...opts.fastify,
  });

  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  collectDefaultMetrics({ register: registry });
  app.decorate('metrics', registry);
  app.decorate('draining', false);
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    if (!app.draining || req.url === '/health' || req.url === '/metrics') return;
    if (req.url === '/ready') return reply.status(503).send({ status: 'draining', service: opts.service });
    return reply
      .status(503)
      .headers({ connection: 'close', 'retry-after': '1', [DRAINING_HEADER]: '1' })
      .send({ statusCode: 503, error: 'Service Unavailable', message: `${opts.service} is shutting down; retry on another replica`, request_id: req.id });
  });
  // While draining, every answer closes its connection: a keep-alive connection that falls
  // idle after the last request in flight would otherwise hold the stop until it times out.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (app.draining) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    httpDuration.labels(req.method, route, String(reply.statusCode)).observe(reply.elapsedTime / 1000);
    const quiet = route === '/health' || route === '/ready' || route === '/metrics';
    req.log[quiet ? 'debug' : 'info'](
      {
        http: { request: { method: req.method }, response: { status_code: reply.statusCode } },
        url: { path: req.url.split('?')[0] },
        event: { duration: Math.round(reply.elapsedTime * 1e6) },
      },
      'request completed',
    );
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; headers?: Record<string, string> }, req, reply) => {
    if (err.headers) void reply.headers(err.headers);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ err: { message: err.message, code: err.code } }, 'request rejected');
    const message = status >= 500 && !err.statusCode ? 'internal error' : err.message;
    void reply.status(status).send({ statusCode: status, error: httpErrorName(status), message, request_id: req.id });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url}`, request_id: req.id });
  });

  app.get('/health', async () => ({ status: 'ok', service: opts.service }));
  app.get('/metrics', async (_req, reply) => {
    void reply.type(registry.contentType);
    return registry.metrics();
  });
  return app;
}

const NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};
function httpErrorName(status: number): string {
  return NAMES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** An error that becomes a JSON answer with this status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

/**
 * Stops the service cleanly on SIGINT/SIGTERM: not-ready at once, no new connections, the
 * requests in flight finished, then `extra` (e.g. closing a pool) and exit. Past `graceMs`
 * (NST_SHUTDOWN_GRACE_MS; keep it below the pod's terminationGracePeriodSeconds) it exits anyway.
 */
export function closeOnSignals(app: FastifyInstance, extra?: () => Promise<void>, graceMs = Number(process.env.NST_SHUTDOWN_GRACE_MS) || DEFAULT_SHUTDOWN_GRACE_MS): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    app.draining = true;
    app.log.info({ signal, grace_ms: graceMs }, 'shutting down: finishing requests in flight');
    const timer = setTimeout(() => {
      app.log.error({ grace_ms: graceMs }, 'shutdown grace period over: exiting with requests still in flight');
      process.exit(1);
    }, graceMs);
    timer.unref();
    void app
      .close()
      .then(() => extra?.())
      .then(
        () => {
          app.log.info('stopped');
          process.exit(0);
        },
        (err) => {
          app.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

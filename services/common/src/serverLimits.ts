/**
 * Limits every HTTP server of the platform applies to its clients, each a setting: how
 * long a request (headers and body) may take to arrive, how long an idle keep-alive
 * connection is kept, how many connections are held at once, and how large the headers
 * may be. Without them one client sending a byte a second, or holding thousands of idle
 * sockets, ties up the process.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const serverLimitsEnv = {
  /** Whole request, headers and body, must arrive within this; then the socket is closed. */
  NST_REQUEST_TIMEOUT_MS: ms(60_000),
  /** Headers must arrive within this. */
  NST_HEADERS_TIMEOUT_MS: ms(10_000),
  /** A socket with no traffic for this long is closed. */
  NST_SOCKET_TIMEOUT_MS: ms(120_000),
  /** An idle keep-alive connection is kept this long between requests. */
  NST_KEEP_ALIVE_TIMEOUT_MS: ms(5_000),
  /** Connections held at once; beyond it new ones are closed at accept. */
  NST_MAX_CONNECTIONS: z.coerce.number().int().positive().default(1024),
  /** Bytes of request line and headers; beyond it the answer is 431. */
  NST_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).default(16 * 1024),
};

export type ServerLimits = { [K in keyof typeof serverLimitsEnv]: z.output<(typeof serverLimitsEnv)[K]> };

/** Fastify server options for the limits (pass as ServiceOptions.fastify). */
export function serverLimitOptions(l: ServerLimits): Partial<FastifyServerOptions> {
  return {
    requestTimeout: l.NST_REQUEST_TIMEOUT_MS,
    connectionTimeout: l.NST_SOCKET_TIMEOUT_MS,
    keepAliveTimeout: l.NST_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      maxHeaderSize: l.NST_MAX_HEADER_BYTES,
      headersTimeout: Math.min(l.NST_HEADERS_TIMEOUT_MS, l.NST_REQUEST_TIMEOUT_MS),
      // Node checks the two timeouts on this interval (30 s by default): check every second.
      connectionsCheckingInterval: 1_000,
    },
  } as Partial<FastifyServerOptions>;
}

/** The connection cap lives on the Node server, which exists once Fastify is created. */
export function applyConnectionCap(app: FastifyInstance, l: ServerLimits): void {
  app.server.maxConnections = l.NST_MAX_CONNECTIONS;
}

/**
 * The gateway's routes are declared with the zod schemas of @nst/contracts through
 * fastify-type-provider-zod: the same object validates the request, types the handler,
 * serialises the answer and documents the route in OpenAPI.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import { ErrorBody } from '@nst/contracts';

export type GatewayApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/**
 * Multipart bodies are read as a stream by the route (uploadForm.ts), never parsed whole, so
 * their schema documents the form in OpenAPI and is not run against `req.body` (which the
 * multipart parser leaves empty).
 */
const streamedBodies = new WeakSet<object>();
export function streamedBody<T extends ZodType>(schema: T): T {
  streamedBodies.add(schema);
  return schema;
}

export function useZodSchemas(app: FastifyInstance): GatewayApp {
  type Route = Parameters<typeof validatorCompiler>[0];
  app.setValidatorCompiler((route: Route) => (route.httpPart === 'body' && streamedBodies.has(route.schema) ? () => ({ value: undefined }) : validatorCompiler(route)));
  app.setSerializerCompiler(serializerCompiler);
  return app.withTypeProvider<ZodTypeProvider>();
}

/** The error answers a route may give, each with the platform's error body. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ErrorBody } {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody])) as { [K in S[number]]: typeof ErrorBody };
}

/** A response that is a file or a stream (sent as bytes, never serialised as JSON). */
export const binaryBody = (description: string) => z.any().meta({ type: 'string', format: 'binary', description });

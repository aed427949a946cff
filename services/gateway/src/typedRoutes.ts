/**
 * The gateway's routes are declared with the zod schemas of @nst/contracts through
 * fastify-type-provider-zod: the same object validates the request, types the handler,
 * serialises the answer and documents the route in OpenAPI.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SwaggerTransformObject } from '@fastify/swagger';
import { z } from 'zod';
import { errorBodySchema } from '@nst/contracts';

type OpenApiDocument = ReturnType<SwaggerTransformObject>;

export type GatewayApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/**
 * Multipart bodies are read as a stream by the route (uploadForm.ts), never parsed whole, so
 * their schema documents the form in OpenAPI and is not run against `req.body` (which the
 * multipart parser leaves empty).
 */
const streamedBodies = new WeakSet<object>();
export function streamedBody<T extends z.ZodType>(schema: T): T {
  streamedBodies.add(schema);
  return schema;
}

/**
 * A body the gateway passes on as it came to the service that owns its contract (the
 * fine-tuning service): documented here, checked there, so a refusal has one wording.
 */
const relayedBodies = new WeakSet<object>();
export function relayedBody<T extends z.ZodType>(schema: T): T {
  relayedBodies.add(schema);
  return schema;
}

export function useZodSchemas(app: FastifyInstance): GatewayApp {
  type Route = Parameters<typeof validatorCompiler>[0];
  app.setValidatorCompiler((route: Route) => {
    if (route.httpPart === 'body' && streamedBodies.has(route.schema)) return () => ({ value: undefined });
    if (route.httpPart === 'body' && relayedBodies.has(route.schema)) return (data: unknown) => ({ value: data });
    return validatorCompiler(route);
  });
  app.setSerializerCompiler(serializerCompiler);
  return app.withTypeProvider<ZodTypeProvider>();
}

/** The error answers a route may give, each with the platform's error body. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof errorBodySchema } {
  return Object.fromEntries(statuses.map((s) => [s, errorBodySchema])) as { [K in S[number]]: typeof errorBodySchema };
}

/** A response that is a file or a stream of these content types (sent as bytes, never serialised as JSON). */
export function binaryResponse(description: string, contentTypes: readonly string[]) {
  const schema = z.any().meta({ type: 'string', format: 'binary' });
  return { description, content: Object.fromEntries(contentTypes.map((t) => [t, { schema }])) };
}

/**
 * The zod transform names every component twice (`X` for answers, `XInput` for requests);
 * the document keeps only those a route refers to, directly or through another component.
 */
export function withoutUnusedComponents(doc: OpenApiDocument): OpenApiDocument {
  if (!('components' in doc) || !doc.components?.schemas) return doc;
  const schemas = doc.components.schemas;
  const used = new Set<string>();
  const visit = (value: unknown) => {
    for (const [, name] of JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (used.has(name!) || !(name! in schemas)) continue;
      used.add(name!);
      visit(schemas[name!]);
    }
  };
  visit({ ...doc, components: { ...doc.components, schemas: {} } });
  // The document is the transform's own new object: pruning it in place touches nothing shared.
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  return doc;
}

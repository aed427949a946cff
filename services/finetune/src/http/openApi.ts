/**
 * Validation, serialisation and the OpenAPI document of the fine-tuning API from the zod
 * schemas of @nst/contracts (fastify-type-provider-zod); the document is served at /docs
 * (Swagger UI) and /docs/json. Registered before the routes, so each is documented.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // One line naming each problem by its field, as the platform's other 400s read.
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const lines = errors.map((e) => `${e.instancePath.replace(/^\//, '').replaceAll('/', '.') || dataVar}: ${e.message ?? 'invalid'}`);
    return new Error(lines.join('; '));
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'NST fine-tuning API', version: '1.0.0', description: 'Admin-only training jobs that publish new model versions.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

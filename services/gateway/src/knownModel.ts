/** The one answer for a model the gateway does not serve, wherever a request names one. */
import type { FastifyRequest } from 'fastify';
import { HttpError } from '@nst/common';
import { modelParamsSchema } from '@nst/contracts';

export function requireKnownModel(modelNames: ReadonlySet<string>, name: string): string {
  if (!modelNames.has(name)) throw new HttpError(404, `unknown model "${name}"; known: ${[...modelNames].join(', ')}`);
  return name;
}

/** A preHandler for routes under /api/models/:model (after the admin token check, before the handler). */
export const knownModelHook =
  (modelNames: ReadonlySet<string>) =>
  async (req: FastifyRequest): Promise<void> => {
    requireKnownModel(modelNames, modelParamsSchema.parse(req.params).model);
  };

import { z } from 'zod';

/** Every 4xx/5xx body the platform's HTTP services send (the error handler of httpService.ts). */
export const errorBodySchema = z
  .object({
    statusCode: z.number().int().describe('The HTTP status, repeated'),
    error: z.string().describe('The status in words (Not Found, …)'),
    message: z.string().describe('What went wrong, in words a client can show'),
    request_id: z.string().describe('The X-Request-Id of the request, for the logs'),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

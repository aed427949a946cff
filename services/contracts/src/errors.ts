import { z } from 'zod';

/** Every 4xx/5xx body the platform's HTTP services send. */
export const ErrorBody = z
  .object({
    error: z.string().describe('What went wrong, in words a client can show'),
  })
  .passthrough()
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

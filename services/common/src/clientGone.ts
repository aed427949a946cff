/** A signal that aborts when the client closes its connection before the answer is sent. */
import type { FastifyReply } from 'fastify';

export function abortedWhenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

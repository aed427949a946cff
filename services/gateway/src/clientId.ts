/**
 * Who is asking, for sticky canary assignment: the X-Client-Id header when present, else
 * the nst_client cookie, which the gateway sets on a client's first request.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const CLIENT_COOKIE = 'nst_client';
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id the request carries, or null when it carries none. */
export function knownClientId(req: FastifyRequest): string | null {
  const header = req.headers['x-client-id'];
  if (typeof header === 'string' && SAFE_ID.test(header)) return header;
  const cookie = req.cookies?.[CLIENT_COOKIE];
  if (cookie && SAFE_ID.test(cookie)) return cookie;
  return null;
}

export function clientIdOf(req: FastifyRequest, reply: FastifyReply): string {
  const known = knownClientId(req);
  if (known) return known;
  const id = randomUUID();
  void reply.setCookie(CLIENT_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 });
  return id;
}

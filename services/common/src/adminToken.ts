/**
 * The admin bearer token (NST_ADMIN_TOKEN). When the variable is unset, the local stack
 * generates one on first start into <storage>/admin_token (mode 600) and every service
 * reads it from there.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createFileExclusive } from './atomicFile.ts';
import { HttpError } from './httpService.ts';

const adminTokenFile = (storageDir: string) => path.join(storageDir, 'admin_token');

/** The configured token, else the stored one, else a new stored one (first start). */
export async function ensureAdminToken(storageDir: string, fromEnv?: string): Promise<{ token: string; file: string | null; created: boolean }> {
  if (fromEnv) return { token: fromEnv, file: null, created: false };
  const file = adminTokenFile(storageDir);
  const stored = await readFile(file, 'utf8').catch(() => null);
  if (stored?.trim()) return { token: stored.trim(), file, created: false };
  const token = randomBytes(24).toString('base64url');
  const created = await createFileExclusive(file, `${token}\n`);
  if (!created) return ensureAdminToken(storageDir, fromEnv); // another process won the race
  await chmod(file, 0o600);
  return { token, file, created };
}

/** Throws 401 unless the Authorization header carries the bearer token. */
export function checkBearer(header: string | undefined, token: string): void {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) throw new HttpError(401, 'admin endpoints need Authorization: Bearer <NST_ADMIN_TOKEN>', { 'www-authenticate': 'Bearer' });
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, 'invalid admin token', { 'www-authenticate': 'Bearer' });
}

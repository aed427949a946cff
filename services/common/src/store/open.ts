/** Picks the backend: PostgreSQL when a database URL is set, else files on the storage volume. */
import { FileStore } from './fileStore.ts';
import type { PlatformStore } from './types.ts';

export interface StoreLocation {
  storageDir: string;
  databaseUrl?: string;
}

export async function openPlatformStore(loc: StoreLocation): Promise<PlatformStore> {
  if (!loc.databaseUrl) return new FileStore(loc.storageDir);
  const { PgStore } = await import('./pgStore.ts');
  return PgStore.open(loc.databaseUrl);
}

const shared = new Map<string, Promise<PlatformStore>>();

/**
 * One store per location for the whole process (one connection pool), for code paths that
 * are handed only the storage folder: fine-tune publishing and data curation, which also run
 * as Kubernetes Jobs. The database comes from NST_DATABASE_URL as for the services.
 */
export function sharedPlatformStore(storageDir: string, databaseUrl = process.env.NST_DATABASE_URL || undefined): Promise<PlatformStore> {
  const key = `${storageDir}\u0000${databaseUrl ?? ''}`;
  let s = shared.get(key);
  if (!s) {
    s = openPlatformStore({ storageDir, databaseUrl });
    shared.set(key, s);
    s.catch(() => shared.delete(key));
  }
  return s;
}

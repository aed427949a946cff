/**
 * Can the gateway store what it is asked to? Each folder is probed by writing and removing
 * a small file, which also catches what a permission check misses (a full disk, a
 * read-only mount, a file where the folder should be, or a process running as root).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** One line per folder that cannot be written; empty when all can. */
export async function storageProblems(dirs: string[]): Promise<string[]> {
  const problems = await Promise.all(
    dirs.map(async (dir) => {
      const probe = path.join(dir, `.ready-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(probe, 'ok');
        await rm(probe, { force: true });
        return null;
      } catch (err) {
        await rm(probe, { force: true }).catch(() => undefined);
        return `${path.basename(dir)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }),
  );
  return problems.filter((p): p is string => p !== null);
}

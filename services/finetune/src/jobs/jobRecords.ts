/**
 * Where job records live so a restart finds them: state, parameters, progress, loss history,
 * result, backend. `JobRecords` is the seam for other backends (a database); the file one
 * keeps one JSON file per job under <storage>/finetune-jobs/, each write atomic.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@nst/common';

export interface JobRecords<J extends { id: string }> {
  save(job: J): Promise<void>;
  get(id: string): Promise<J | null>;
  list(): Promise<J[]>;
  remove(id: string): Promise<void>;
}

/** Ids are UUIDs; anything else is refused rather than turned into a path. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class FileJobRecords<J extends { id: string }> implements JobRecords<J> {
  readonly dir: string;

  /** `parse` checks a record read back (a torn or foreign file is skipped, not trusted). */
  constructor(
    storageDir: string,
    private readonly parse: (value: unknown) => J,
    private readonly onUnreadable?: (file: string, err: Error) => void,
  ) {
    this.dir = path.join(storageDir, 'finetune-jobs');
  }

  private file(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`unusable job id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async save(job: J): Promise<void> {
    await writeFileAtomic(this.file(job.id), `${JSON.stringify(job)}\n`);
  }

  async get(id: string): Promise<J | null> {
    if (!SAFE_ID.test(id)) return null;
    return this.read(this.file(id));
  }

  async list(): Promise<J[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const jobs: J[] = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      const job = await this.read(path.join(this.dir, name));
      if (job) jobs.push(job);
    }
    return jobs;
  }

  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  private async read(file: string): Promise<J | null> {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) return null;
    try {
      return this.parse(JSON.parse(text));
    } catch (err) {
      this.onUnreadable?.(file, err as Error);
      return null;
    }
  }
}

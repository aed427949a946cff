/**
 * Training-job records in files: one JSON file per job under <storage>/finetune-jobs/, each
 * write atomic (a crash leaves the old record or the new one, never half of one).
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomicFile.ts';
import { checkJobId, isSafeJobId, type JobRecord, type JobRecords, type ParseJobRecord, type UnreadableJobRecord } from './types.ts';

export class FileJobRecords<J extends JobRecord> implements JobRecords<J> {
  readonly dir: string;

  constructor(
    storageDir: string,
    private readonly parse: ParseJobRecord<J>,
    private readonly onUnreadable?: UnreadableJobRecord,
  ) {
    this.dir = path.join(storageDir, 'finetune-jobs');
  }

  private file(id: string): string {
    return path.join(this.dir, `${checkJobId(id)}.json`);
  }

  async save(job: J): Promise<void> {
    await writeFileAtomic(this.file(job.id), `${JSON.stringify(job)}\n`);
  }

  async get(id: string): Promise<J | null> {
    if (!isSafeJobId(id)) return null;
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

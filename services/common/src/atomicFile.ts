/** Crash-safe file writes: a reader sees the old file or the new one, never a torn one. */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function writeDurably(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes via temp file + fsync + rename; replaces any existing file. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    await writeDurably(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Creates `file` with this content only if it does not exist yet (hard link of a complete
 * temp file, so it appears whole). Returns false when the name is taken.
 */
export async function createFileExclusive(file: string, data: string | Uint8Array): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    await writeDurably(tmp, data);
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Appends whole lines. One write(2) per call on an O_APPEND descriptor, serialised within
 * the process, so concurrent callers never interleave or lose lines.
 */
export class LineAppender {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly file: string) {}

  append(line: string): Promise<void> {
    const text = line.endsWith('\n') ? line : `${line}\n`;
    const next = this.tail.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const handle = await open(this.file, 'a');
      try {
        await handle.write(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }
}

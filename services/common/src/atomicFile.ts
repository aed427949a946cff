/** Crash-safe file writes: a reader sees the old file or the new one, never a torn one. */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
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

/** A write that did not reach the disk whole (full disk, file size limit, I/O error): nothing was recorded. */
class StoreWriteError extends Error {
  /** 507 Insufficient Storage: the request was fine, the server could not store it. */
  readonly statusCode = 507;
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** Length of the file once a torn last line (no newline) is cut off. */
async function wholeLinesLength(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(4096);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * Appends whole lines. One write(2) per call on an O_APPEND descriptor, serialised within
 * the process, so concurrent callers never interleave or lose lines. A write that comes up
 * short is cut back off and reported as StoreWriteError, so an acknowledged line is always
 * whole; a torn tail left by a crash is cut off before the next line goes in.
 */
export class LineAppender {
  private tail: Promise<unknown> = Promise.resolve();
  /** When the last append failed and none has succeeded since (ms), for readiness. */
  lastFailureAt: number | null = null;
  /** Torn tails cut off so far. */
  repairs = 0;
  constructor(readonly file: string) {}

  append(line: string): Promise<void> {
    const text = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    const next = this.tail.then(() => this.write(text));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async write(text: Buffer): Promise<void> {
    let handle: FileHandle | undefined;
    let size = -1;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      handle = await open(this.file, 'a+');
      size = (await handle.stat()).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) {
          size = await wholeLinesLength(handle, size);
          await handle.truncate(size);
          this.repairs++;
        }
      }
      const { bytesWritten } = await handle.write(text);
      if (bytesWritten !== text.length) {
        throw new StoreWriteError(`only ${bytesWritten} of ${text.length} bytes reached ${path.basename(this.file)} (disk full?); nothing was recorded`);
      }
      await handle.sync();
      this.lastFailureAt = null;
    } catch (err) {
      this.lastFailureAt = Date.now();
      // Whatever part of this line got in comes out again: no fragment for the next line to glue onto.
      if (handle && size >= 0) await handle.truncate(size).catch(() => undefined);
      if (err instanceof StoreWriteError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new StoreWriteError(`could not append to ${path.basename(this.file)} (${code}); nothing was recorded`, err);
    } finally {
      await handle?.close();
    }
  }
}

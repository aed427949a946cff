/**
 * Reads the stylise form with the image streamed to a file in the upload folder, never
 * whole into memory (a style image, capped like any upload and far smaller, is buffered), and at most NST_MAX_CONCURRENT_UPLOADS at once (more are answered
 * 503 + Retry-After before their body is read). A body that is not well-formed multipart
 * is a 400 naming the problem.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '@nst/common';

export interface UploadedForm {
  /** A temporary file holding the image, or null when none was sent. */
  imagePath: string | null;
  imageBytes: number;
  fields: Record<string, string>;
  /** The other files the form may carry (UploadFormOptions.extraFiles), whole. */
  extraFiles: Record<string, Buffer>;
  /** Deletes the temporary file (once it has been moved or is no longer needed). */
  discard(): Promise<void>;
}

export class UploadSlots {
  private active = 0;
  constructor(private readonly max: number) {}

  acquire(): () => void {
    if (this.active >= this.max) throw new HttpError(503, `too many uploads in progress (${this.active}); retry shortly`, { 'retry-after': '1' });
    this.active++;
    let released = false;
    return () => {
      if (!released) this.active--;
      released = true;
    };
  }
}

const isClientFault = (err: unknown) => {
  const status = (err as { statusCode?: number }).statusCode;
  return err instanceof HttpError || (status !== undefined && status >= 400 && status < 500);
};

/** What a failure while reading a multipart body answers: the client's own fault as it is, a broken body as a 400. */
export function multipartFault(err: unknown): unknown {
  if (isClientFault(err) || (err as { statusCode?: number }).statusCode === 503) return err;
  return new HttpError(400, `malformed multipart body: ${(err as Error).message}`);
}

export interface UploadFormOptions {
  dir: string;
  fields: ReadonlySet<string>;
  /** File fields besides "image" that are accepted, once each. */
  extraFiles?: ReadonlySet<string>;
  slots: UploadSlots;
  /** Called with the fields sent before the file, before it is received: may refuse at once. */
  beforeFile?: (fields: Record<string, string>) => void;
}

export async function readUploadForm(req: FastifyRequest, o: UploadFormOptions): Promise<UploadedForm> {
  if (!req.isMultipart()) throw new HttpError(415, 'send multipart/form-data with an "image" file and a "model" field');
  const release = o.slots.acquire();
  const form: UploadedForm = {
    imagePath: null,
    imageBytes: 0,
    fields: {},
    extraFiles: {},
    discard: async () => {
      if (form.imagePath) await rm(form.imagePath, { force: true });
    },
  };
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (o.extraFiles?.has(part.fieldname) && !form.extraFiles[part.fieldname]) {
          form.extraFiles[part.fieldname] = await part.toBuffer();
          continue;
        }
        if (part.fieldname !== 'image' || form.imagePath) {
          part.file.resume();
          const others = [...(o.extraFiles ?? [])].map((f) => ` (and at most one named "${f}")`).join('');
          throw new HttpError(400, `unexpected file field "${part.fieldname}"; send exactly one file named "image"${others}`);
        }
        try {
          o.beforeFile?.(form.fields);
        } catch (err) {
          part.file.resume();
          throw err;
        }
        await mkdir(o.dir, { recursive: true });
        form.imagePath = path.join(o.dir, `.upload-${randomUUID()}.part`);
        await pipeline(part.file, createWriteStream(form.imagePath, { flags: 'wx' })).catch((err: NodeJS.ErrnoException) => {
          if (isClientFault(err) || !err.code || !err.syscall) throw err;
          throw new HttpError(503, `the upload cannot be stored (${err.code}); try again later`, { 'retry-after': '30' });
        });
        // A file cut at the size limit is reported by the parser; check in case it was not.
        if (part.file.truncated) throw Object.assign(new Error('file too large'), { statusCode: 413, code: 'FST_REQ_FILE_TOO_LARGE' });
        form.imageBytes = (await stat(form.imagePath)).size;
      } else if (o.fields.has(part.fieldname)) {
        form.fields[part.fieldname] = String(part.value);
      }
    }
    return form;
  } catch (err) {
    await form.discard();
    throw multipartFault(err);
  } finally {
    release();
  }
}

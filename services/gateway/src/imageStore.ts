/**
 * Uploads and results on the shared volume. File names are made here, never taken from
 * the client; each result has a sidecar recording which model version produced it.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { HttpError, writeFileAtomic } from '@nst/common';
import { outputRecordSchema, type OutputRecord } from '@nst/contracts';

export const INPUT_NAME = /^in_[0-9a-f-]{36}\.(jpeg|png|webp|gif|tiff|avif|heif)$/;
export const OUTPUT_NAME = /^out_[0-9a-f-]{36}\.(png|jpeg|webp)$/;

export class ImageStore {
  readonly inputDir: string;
  readonly outputDir: string;
  constructor(storageDir: string) {
    this.inputDir = path.join(storageDir, 'input_images');
    this.outputDir = path.join(storageDir, 'output_images');
  }

  newInputName(format: string): string {
    return `in_${randomUUID()}.${format}`;
  }
  newOutputName(format: string): string {
    return `out_${randomUUID()}.${format}`;
  }

  inputPath(name: string): string {
    return path.join(this.inputDir, name);
  }

  /** Gives a complete upload file (in the input folder) its stored name. */
  async keepInput(name: string, uploadedFile: string): Promise<void> {
    await rename(uploadedFile, this.inputPath(name));
  }

  async removeInput(name: string): Promise<void> {
    await rm(this.inputPath(name), { force: true });
  }

  /**
   * Stores a result for a kept upload. When that fails (disk full, folder not writable)
   * the upload is removed too, so nothing half-stored stays behind, and the answer says why.
   */
  async saveResult(inputName: string, outputName: string, bytes: Uint8Array, record: OutputRecord): Promise<void> {
    try {
      await this.saveOutput(outputName, bytes, record);
    } catch (err) {
      await Promise.all([this.removeInput(inputName), rm(path.join(this.outputDir, outputName), { force: true })]).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new HttpError(503, `the result could not be stored (${code} in output_images); nothing was kept, try again later`, { 'retry-after': '60' });
    }
  }

  /** The result first, then its record: a record always points at a complete image. */
  async saveOutput(name: string, bytes: Uint8Array, record: OutputRecord): Promise<void> {
    await writeFileAtomic(path.join(this.outputDir, name), bytes);
    await writeFileAtomic(this.recordPath(name), JSON.stringify(record));
  }

  async outputRecord(name: string): Promise<OutputRecord | null> {
    if (!OUTPUT_NAME.test(name)) return null;
    const text = await readFile(this.recordPath(name), 'utf8').catch(() => null);
    return text === null ? null : outputRecordSchema.parse(JSON.parse(text));
  }

  /** Absolute path of a stored image, or null for any name this store would not have made. */
  resolve(kind: 'inputs' | 'outputs', name: string): string | null {
    if (kind === 'inputs') return INPUT_NAME.test(name) ? path.join(this.inputDir, name) : null;
    return OUTPUT_NAME.test(name) ? path.join(this.outputDir, name) : null;
  }

  private recordPath(outputName: string): string {
    return path.join(this.outputDir, `${outputName.replace(/\.[a-z]+$/, '')}.json`);
  }
}

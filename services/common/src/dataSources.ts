/**
 * Pinned upstream data (pretrained style networks, VGG19, photos, paintings), listed with
 * their sha256 in data/sources.tsv. Files come from a mirror folder (NST_DATA_MIRROR,
 * laid out like the list's paths) or are downloaded from their upstream repositories into
 * a cache; either way every file is verified before use.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { writeFileAtomic } from './atomicFile.ts';

export interface DataSource {
  path: string;
  bytes: number;
  sha256: string;
  repo: string;
  commit: string;
  upstreamPath: string;
  license: string;
}

export const SOURCES_FILE = fileURLToPath(new URL('../data/sources.tsv', import.meta.url));

let cachedSources: Map<string, DataSource> | undefined;

export function dataSources(): Map<string, DataSource> {
  if (cachedSources) return cachedSources;
  const lines = readFileSync(SOURCES_FILE, 'utf8').split('\n').filter(Boolean);
  cachedSources = new Map();
  for (const line of lines.slice(1)) {
    const [p, bytes, sha256, repo, commit, upstreamPath, license] = line.split('\t');
    cachedSources.set(p!, { path: p!, bytes: Number(bytes), sha256: sha256!, repo: repo!, commit: commit!, upstreamPath: upstreamPath!, license: license ?? '' });
  }
  return cachedSources;
}

/** Sources under a folder of the list, e.g. `models/fast-style/wave/`. */
export function sourcesUnder(prefix: string): DataSource[] {
  const p = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return [...dataSources().values()].filter((s) => s.path.startsWith(p));
}

export function upstreamUrl(s: DataSource): string {
  return `https://raw.githubusercontent.com/${s.repo}/${s.commit}/${s.upstreamPath}`;
}

export class DataFileError extends Error {}

export interface DataLocation {
  /** Mirror folder; when unset, files are downloaded into cacheDir. */
  mirror?: string;
  cacheDir: string;
}

const verified = new Set<string>();

function checkBytes(s: DataSource, bytes: Uint8Array, where: string): void {
  if (bytes.byteLength !== s.bytes) {
    throw new DataFileError(`${s.path}: ${where} has ${bytes.byteLength} bytes, expected ${s.bytes}`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== s.sha256) throw new DataFileError(`${s.path}: ${where} has sha256 ${digest}, expected ${s.sha256}`);
}

async function download(s: DataSource): Promise<Uint8Array> {
  const url = upstreamUrl(s);
  try {
    const res = await request(url, { maxRedirections: 3, headersTimeout: 30_000, bodyTimeout: 120_000 } as Parameters<typeof request>[1]);
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new DataFileError(`${s.path}: download from ${url} answered HTTP ${res.statusCode}`);
    }
    return new Uint8Array(await res.body.arrayBuffer());
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    throw new DataFileError(`${s.path}: download from ${url} failed: ${(err as Error).message}`);
  }
}

/** Local path of a verified copy of one listed file. */
export async function dataFile(relPath: string, loc: DataLocation): Promise<string> {
  const s = dataSources().get(relPath);
  if (!s) throw new DataFileError(`${relPath} is not in ${SOURCES_FILE}`);
  if (loc.mirror) {
    const file = path.join(loc.mirror, relPath);
    if (verified.has(file)) return file;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      throw new DataFileError(`${relPath}: missing from the data mirror (${file})`);
    }
    checkBytes(s, bytes, file);
    verified.add(file);
    return file;
  }
  const file = path.join(loc.cacheDir, relPath);
  if (verified.has(file)) return file;
  const cached = await readFile(file).catch(() => undefined);
  if (cached) {
    try {
      checkBytes(s, cached, file);
      verified.add(file);
      return file;
    } catch {
      // A stale or damaged cache entry: fetch again.
    }
  }
  const bytes = await download(s);
  checkBytes(s, bytes, upstreamUrl(s));
  await writeFileAtomic(file, bytes);
  verified.add(file);
  return file;
}

/**
 * Verified local copies of every listed file under a folder. Returns the root such that
 * `root/<listed path>` exists for each of them.
 */
export async function dataFolder(prefix: string, loc: DataLocation, concurrency = 8): Promise<string> {
  const sources = sourcesUnder(prefix);
  if (sources.length === 0) throw new DataFileError(`no data sources under ${prefix}`);
  let next = 0;
  const worker = async () => {
    while (next < sources.length) await dataFile(sources[next++]!.path, loc);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sources.length) }, worker));
  return loc.mirror ?? loc.cacheDir;
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

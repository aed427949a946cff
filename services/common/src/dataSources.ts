/**
 * Pinned upstream data (pretrained style networks, VGG19, photos, paintings), listed with
 * their sha256 in data/sources.tsv. Files come from a mirror folder (NST_DATA_MIRROR,
 * laid out like the list's paths) or are downloaded from their upstream repositories
 * (NST_DATA_UPSTREAM, raw.githubusercontent.com or an artefact proxy laid out like it) into
 * a cache; either way every file is verified before use.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, interceptors, request, type Dispatcher } from 'undici';

export interface DataSource {
  path: string;
  bytes: number;
  sha256: string;
  repo: string;
  commit: string;
  upstreamPath: string;
  license: string;
}

const SOURCES_FILE = fileURLToPath(new URL('../data/sources.tsv', import.meta.url));

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

/** Where the pinned repositories are served: `<upstream>/<repo>/<commit>/<path>`. */
export const DEFAULT_DATA_UPSTREAM = 'https://raw.githubusercontent.com';

export function upstreamUrl(s: DataSource, upstream: string = DEFAULT_DATA_UPSTREAM): string {
  return `${upstream.replace(/\/+$/, '')}/${s.repo}/${s.commit}/${s.upstreamPath}`;
}

export class DataFileError extends Error {}

/** One file fetched (or found verified in the cache) while a folder is being made available. */
export interface DataProgress {
  file: string;
  downloaded: boolean;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface DataLocation {
  /** Mirror folder; when unset, files are downloaded into cacheDir. */
  mirror?: string;
  cacheDir: string;
  /** Base URL of the upstream repositories (default DEFAULT_DATA_UPSTREAM). */
  upstream?: string;
  /** Longest one file's download may take, retries included (default 5 minutes). */
  fileTimeoutMs?: number;
  onProgress?: (p: DataProgress) => void;
}

/** The location every service and script derives from its settings. */
export function dataLocation(config: { NST_STORAGE_DIR: string; NST_DATA_MIRROR?: string; NST_DATA_UPSTREAM?: string }): DataLocation {
  return { mirror: config.NST_DATA_MIRROR, upstream: config.NST_DATA_UPSTREAM, cacheDir: path.join(config.NST_STORAGE_DIR, 'data-cache') };
}

const verified = new Set<string>();

function checkDigest(s: DataSource, bytes: number, digest: string, where: string): void {
  if (bytes !== s.bytes) throw new DataFileError(`${s.path}: ${where} has ${bytes} bytes, expected ${s.bytes}`);
  if (digest !== s.sha256) throw new DataFileError(`${s.path}: ${where} has sha256 ${digest}, expected ${s.sha256}`);
}

function checkBytes(s: DataSource, bytes: Uint8Array, where: string): void {
  checkDigest(s, bytes.byteLength, createHash('sha256').update(bytes).digest('hex'), where);
}

async function fileDigest(file: string): Promise<{ bytes: number; digest: string } | null> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
  } catch {
    return null;
  }
  return { bytes, digest: hash.digest('hex') };
}

let agent: Dispatcher | undefined;

/**
 * Redirects followed (raw.githubusercontent.com and proxies answer with them), 5xx, 429 and
 * connection errors retried with exponential back-off; the retry is outermost, so a retry
 * starts again from the first URL.
 */
function downloadAgent(): Dispatcher {
  agent ??= new Agent({ headersTimeout: 30_000, bodyTimeout: 60_000 }).compose(
    interceptors.redirect({ maxRedirections: 5 }),
    interceptors.retry({ maxRetries: 5, minTimeout: 250, maxTimeout: 8_000, timeoutFactor: 2 }),
  );
  return agent;
}

/**
 * Streams one file to a temp file next to its cache entry, hashing as it goes; renamed into
 * place only once its size and sha256 match, so the cache never holds a torn or wrong file.
 */
async function download(s: DataSource, file: string, loc: DataLocation, signal?: AbortSignal): Promise<void> {
  const url = upstreamUrl(s, loc.upstream);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
  const timeout = AbortSignal.timeout(loc.fileTimeoutMs ?? 300_000);
  try {
    const res = await request(url, { dispatcher: downloadAgent(), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new DataFileError(`${s.path}: download from ${url} answered HTTP ${res.statusCode}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const out = await open(tmp, 'w');
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        await out.write(chunk);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    checkDigest(s, bytes, hash.digest('hex'), url);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof DataFileError) throw err;
    const e = err as Error & { statusCode?: number };
    const why = timeout.aborted ? `timed out after ${(loc.fileTimeoutMs ?? 300_000) / 1000} s` : e.statusCode ? `answered HTTP ${e.statusCode}` : e.message;
    throw new DataFileError(`${s.path}: download from ${url} failed: ${why}`);
  }
}

/** Local path of a verified copy of one listed file; `downloaded` when it had to be fetched. */
async function provide(relPath: string, loc: DataLocation, signal?: AbortSignal): Promise<{ file: string; downloaded: boolean }> {
  const s = dataSources().get(relPath);
  if (!s) throw new DataFileError(`${relPath} is not in ${SOURCES_FILE}`);
  if (loc.mirror) {
    const file = path.join(loc.mirror, relPath);
    if (verified.has(file)) return { file, downloaded: false };
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      throw new DataFileError(`${relPath}: missing from the data mirror (${file})`);
    }
    checkBytes(s, bytes, file);
    verified.add(file);
    return { file, downloaded: false };
  }
  const file = path.join(loc.cacheDir, relPath);
  if (verified.has(file)) return { file, downloaded: false };
  const cached = await fileDigest(file);
  // A stale or damaged cache entry is fetched again.
  if (cached && cached.bytes === s.bytes && cached.digest === s.sha256) {
    verified.add(file);
    return { file, downloaded: false };
  }
  await download(s, file, loc, signal);
  verified.add(file);
  return { file, downloaded: true };
}

/** Local path of a verified copy of one listed file. */
export async function dataFile(relPath: string, loc: DataLocation): Promise<string> {
  return (await provide(relPath, loc)).file;
}

/**
 * Verified local copies of every listed file under a folder. Returns the root such that
 * `root/<listed path>` exists for each of them. The first failure stops the other downloads
 * and is the one error reported.
 */
export async function dataFolder(prefix: string, loc: DataLocation, concurrency = 8): Promise<string> {
  const sources = sourcesUnder(prefix);
  if (sources.length === 0) throw new DataFileError(`no data sources under ${prefix}`);
  const bytesTotal = sources.reduce((n, s) => n + s.bytes, 0);
  const stop = new AbortController();
  let next = 0;
  let filesDone = 0;
  let bytesDone = 0;
  const worker = async () => {
    while (next < sources.length && !stop.signal.aborted) {
      const s = sources[next++]!;
      const { downloaded } = await provide(s.path, loc, stop.signal);
      filesDone++;
      bytesDone += s.bytes;
      loc.onProgress?.({ file: s.path, downloaded, filesDone, filesTotal: sources.length, bytesDone, bytesTotal });
    }
  };
  let first: unknown;
  const workers = Array.from({ length: Math.min(concurrency, sources.length) }, () =>
    worker().catch((err: unknown) => {
      // Downloads stopped because of it fail too; the cause is the one to report.
      if (!stop.signal.aborted) first = err;
      stop.abort();
    }),
  );
  await Promise.all(workers);
  if (stop.signal.aborted) throw first;
  return loc.mirror ?? loc.cacheDir;
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

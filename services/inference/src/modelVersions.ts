/**
 * Loaded versions of one model. The live version follows latest.txt (polled), other
 * versions load on demand and stay in a small LRU. A replaced session is released only
 * after the requests already using it have finished, so a reload never fails them.
 * A version is switched to only once its artefact matches its card's sha256 and has
 * loaded; one that fails keeps the previous version serving and is reported.
 */
import * as ort from 'onnxruntime-node';
import type { FastifyBaseLogger } from 'fastify';
import { ModelStore, UnverifiableVersionError, readVerifiedArtefact, type ModelKind } from '@nst/common';
import type { LoadFailure } from '@nst/contracts';
import { ArbitraryRunner } from './arbitraryRunner.ts';
import { StyleRunner, type RunInput, type Runner, type TilingSettings } from './styleRunner.ts';

export class UnknownVersionError extends Error {}

class LoadedVersion {
  private users = 0;
  private retired = false;
  constructor(
    readonly version: string,
    readonly runner: Runner,
  ) {}

  async run(input: RunInput): Promise<Float32Array> {
    this.users++;
    try {
      return await this.runner.run(input);
    } finally {
      this.users--;
      if (this.retired && this.users === 0) void this.release();
    }
  }

  retire(): void {
    this.retired = true;
    if (this.users === 0) void this.release();
  }

  private async release(): Promise<void> {
    await this.runner.release();
  }
}

export interface ModelVersionsOptions {
  store: ModelStore;
  model: string;
  threads: number;
  extraVersions: number;
  reloadIntervalMs: number;
  kind: ModelKind;
  tiling: TilingSettings;
  maxPixels: number;
  log: FastifyBaseLogger;
  /** onnxruntime's CPU arena; off gives the memory of a large run back to the system. */
  memArena?: boolean;
  onLoaded?: (version: string, ms: number) => void;
  onLoadFailed?: (version: string, reason: string) => void;
}

export class ModelVersions {
  private live: LoadedVersion | null = null;
  private readonly extra = new Map<string, LoadedVersion>();
  private readonly loading = new Map<string, Promise<LoadedVersion>>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private failure: LoadFailure | null = null;

  constructor(private readonly opts: ModelVersionsOptions) {}

  get liveVersion(): string | null {
    return this.live?.version ?? null;
  }
  /** Set while latest.txt names a version that failed to load (the previous one keeps serving). */
  get loadFailure(): LoadFailure | null {
    return this.failure;
  }
  get loadedVersions(): string[] {
    return [...(this.live ? [this.live.version] : []), ...this.extra.keys()];
  }

  /** Loads the live version, then keeps following latest.txt. */
  async start(): Promise<void> {
    await this.syncLive();
    this.timer = setInterval(() => void this.syncLive(), this.opts.reloadIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.live?.retire();
    for (const v of this.extra.values()) v.retire();
    this.extra.clear();
    this.live = null;
  }

  /** Re-reads latest.txt; swaps in the new live version once it is loaded. */
  async syncLive(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const wanted = await this.opts.store.latest(this.opts.model);
      if (!wanted || wanted === this.live?.version) {
        if (wanted) this.failure = null;
        return;
      }
      // Artefacts are immutable: a version that failed once is not re-read every poll.
      if (this.failure?.version === wanted) return;
      let next: LoadedVersion;
      try {
        next = this.extra.get(wanted) ?? (await this.load(wanted));
      } catch (err) {
        const reason = err instanceof UnverifiableVersionError ? err.reason : (err as Error).message;
        this.failure = { version: wanted, reason, at: new Date().toISOString() };
        this.opts.onLoadFailed?.(wanted, reason);
        this.opts.log.error(
          { nst: { event: 'model_load_failed', model: this.opts.model, version: wanted, serving: this.live?.version ?? null }, error: { message: reason } },
          `${this.opts.model} ${wanted} not switched to: ${reason}; still serving ${this.live?.version ?? 'nothing'}`,
        );
        return;
      }
      this.failure = null;
      this.extra.delete(wanted);
      const previous = this.live;
      this.live = next;
      if (previous) this.keepAsExtra(previous);
      this.opts.log.info({ model: this.opts.model, version: wanted, previous: previous?.version ?? null }, 'live version switched');
    } catch (err) {
      this.opts.log.error({ err, model: this.opts.model }, 'could not load the live version');
    } finally {
      this.checking = false;
    }
  }

  /** The session for a version (the live one when none is named). */
  async get(version?: string): Promise<LoadedVersion> {
    if (!version || version === this.live?.version) {
      if (!this.live) await this.syncLive();
      if (!this.live) throw new UnknownVersionError(`${this.opts.model} has no live version yet`);
      if (!version || version === this.live.version) return this.live;
    }
    const cached = this.extra.get(version);
    if (cached) {
      this.extra.delete(version); // re-insert: most recently used last
      this.extra.set(version, cached);
      return cached;
    }
    if (!(await this.opts.store.hasVersion(this.opts.model, version))) {
      throw new UnknownVersionError(`${this.opts.model} has no version ${version}`);
    }
    const loaded = await this.load(version);
    this.keepAsExtra(loaded);
    return loaded;
  }

  private keepAsExtra(v: LoadedVersion): void {
    if (this.extra.has(v.version)) return;
    this.extra.set(v.version, v);
    while (this.extra.size > this.opts.extraVersions) {
      const [oldest, old] = this.extra.entries().next().value as [string, LoadedVersion];
      this.extra.delete(oldest);
      old.retire();
    }
  }

  private load(version: string): Promise<LoadedVersion> {
    const pending = this.loading.get(version);
    if (pending) return pending;
    const started = performance.now();
    const promise = (async () => {
      const bytes = await readVerifiedArtefact(this.opts.store, this.opts.model, version);
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        intraOpNumThreads: this.opts.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        enableCpuMemArena: this.opts.memArena ?? false,
      };
      let runner: Runner;
      try {
        runner =
          this.opts.kind === 'arbitrary'
            ? await ArbitraryRunner.create(bytes, sessionOptions, this.opts.maxPixels)
            : new StyleRunner(await ort.InferenceSession.create(bytes, sessionOptions), bytes, sessionOptions, this.opts.tiling);
      } catch (err) {
        throw new UnverifiableVersionError(this.opts.model, version, `onnxruntime cannot load it (${(err as Error).message})`);
      }
      const ms = performance.now() - started;
      this.opts.onLoaded?.(version, ms);
      this.opts.log.info({ model: this.opts.model, version, load_ms: Math.round(ms) }, 'model version loaded');
      return new LoadedVersion(version, runner);
    })().finally(() => this.loading.delete(version));
    this.loading.set(version, promise);
    return promise;
  }
}

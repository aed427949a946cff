/**
 * Runs a feed-forward style network on a photo: whole when it is small, otherwise in
 * feathered tiles normalised by statistics from a thumbnail of the whole photo (Thumbnail
 * Instance Normalization). The tile and statistics graphs are generated from the weights in
 * the version's own artefact, through the same network definition that exported it.
 */
import * as ort from 'onnxruntime-node';
import { ONNX_INPUT, ONNX_OUTPUT } from '@nst/common';
import { convLayers, exportOnnx, importOnnx, normMeanName, normVarName, runTiled, thumbnailOf, type TileOptions } from '@nst/network';

export interface TilingSettings {
  /** Photos whose longest side is at most this run whole. */
  untiledMaxSide: number;
  /** Longest side of the thumbnail the normalisation statistics come from. */
  thumbnailSide: number;
  tiles: TileOptions;
}

export interface RunProgress {
  (done: number, total: number): void;
}

export interface RunInput {
  /** HWC RGB 0..255. */
  pixels: Float32Array;
  width: number;
  height: number;
  strength: number;
  /** The style image's bytes, for the arbitrary-style model. */
  style?: Uint8Array;
  /** Tiles done (1 of 1 for a whole run). */
  onProgress?: RunProgress;
}

/** A loaded network of either kind. */
export interface Runner {
  /** True when the network applies the strength itself (else it is a pixel blend afterwards). */
  readonly appliesStrength: boolean;
  run(input: RunInput): Promise<Float32Array>;
  release(): Promise<void>;
}

export class StyleRunner implements Runner {
  readonly appliesStrength = false;
  private tiledSessions: Promise<{ emit: ort.InferenceSession; take: ort.InferenceSession }> | null = null;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly artefact: Uint8Array,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
    private readonly tiling: TilingSettings,
  ) {}

  async run({ pixels, width, height, onProgress }: RunInput): Promise<Float32Array> {
    if (Math.max(width, height) <= this.tiling.untiledMaxSide) {
      const out = await runSession(this.session, { [ONNX_INPUT]: image(pixels, width, height) });
      onProgress?.(1, 1);
      return out[ONNX_OUTPUT]!.data as Float32Array;
    }
    const { emit, take } = await this.sessionsForTiles();
    const thumb = await thumbnailOf(pixels, width, height, this.tiling.thumbnailSide);
    const statsRun = await runSession(emit, { [ONNX_INPUT]: image(thumb.data, thumb.width, thumb.height) });
    const stats: Record<string, ort.Tensor> = {};
    for (const l of convLayers()) {
      stats[normMeanName(l)] = statsRun[normMeanName(l)]!;
      stats[normVarName(l)] = statsRun[normVarName(l)]!;
    }
    return runTiled(
      pixels,
      width,
      height,
      this.tiling.tiles,
      async (tile, w, h) => (await runSession(take, { [ONNX_INPUT]: image(tile, w, h), ...stats }))[ONNX_OUTPUT]!.data as Float32Array,
      onProgress,
    );
  }

  async release(): Promise<void> {
    await this.session.release().catch(() => undefined);
    const tiled = await this.tiledSessions?.catch(() => null);
    await tiled?.emit.release().catch(() => undefined);
    await tiled?.take.release().catch(() => undefined);
  }

  private sessionsForTiles() {
    this.tiledSessions ??= (async () => {
      const weights = importOnnx(this.artefact);
      // No arena: a tiled run's peak is one thumbnail pass, and an arena would keep it held.
      const options = { ...this.sessionOptions, enableCpuMemArena: false, enableMemPattern: false };
      const [emit, take] = await Promise.all([
        ort.InferenceSession.create(exportOnnx(weights, {}, undefined, 'emit'), options),
        ort.InferenceSession.create(exportOnnx(weights, {}, undefined, 'take'), options),
      ]);
      return { emit, take };
    })();
    this.tiledSessions.catch(() => {
      this.tiledSessions = null; // try again on the next tiled run
    });
    return this.tiledSessions;
  }
}

const image = (pixels: Float32Array, width: number, height: number) => new ort.Tensor('float32', pixels, [1, height, width, 3]);
const runSession = (session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) => session.run(feeds);

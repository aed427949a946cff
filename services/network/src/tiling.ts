/**
 * Large photos run in overlapping tiles so an inference process's memory stays bounded
 * whatever the image size: activations scale with the tile, not the photo.
 *
 * Tiles start on multiples of 4 (the networks downsample twice by 2), so a tile sees the
 * same pixel grid as a whole-image run would. Along each shared edge a tile's weight is 0
 * for the first `margin` pixels (where zero padding at the tile's border distorts the
 * output), then rises linearly to 1 across the rest of the overlap; the weights of
 * neighbouring tiles sum to 1, so the overlap is feathered and no edge is hard.
 * The normalisation statistics come from a thumbnail of the whole photo (see onnxFormat.ts).
 */
import sharp from 'sharp';
import { SIZE_MULTIPLE } from './styleNet.ts';

export interface TileOptions {
  /** Tile side, pixels (a multiple of 4). */
  tile: number;
  /** Overlap between neighbouring tiles, pixels (a multiple of 4, less than half the tile). */
  overlap: number;
  /** Pixels at a shared tile edge that get no weight. */
  margin: number;
}

export const DEFAULT_TILE_OPTIONS: TileOptions = { tile: 640, overlap: 128, margin: 32 };

export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Start offsets along one axis: the last tile ends at the edge; every start a multiple of 4. */
function starts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const step = tile - overlap;
  const out: number[] = [];
  for (let s = 0; s + tile < length; s += step) out.push(s);
  const last = Math.floor((length - tile) / SIZE_MULTIPLE) * SIZE_MULTIPLE;
  if (out[out.length - 1]! < last) out.push(last);
  return out;
}

export function tileGrid(width: number, height: number, o: TileOptions): Tile[] {
  const tiles: Tile[] = [];
  for (const y of starts(height, o.tile, o.overlap)) {
    for (const x of starts(width, o.tile, o.overlap)) {
      tiles.push({ x, y, width: Math.min(o.tile, width - x), height: Math.min(o.tile, height - y) });
    }
  }
  return tiles;
}

/** Weight of position u in a tile of this length along one axis, given its neighbours. */
function ramp(u: number, length: number, before: boolean, after: boolean, o: TileOptions, overlapBefore: number, overlapAfter: number): number {
  let w = 1;
  if (before) w = Math.min(w, Math.max(0, (u - o.margin) / Math.max(1, overlapBefore - 2 * o.margin)));
  if (after) w = Math.min(w, Math.max(0, (length - 1 - u - o.margin) / Math.max(1, overlapAfter - 2 * o.margin)));
  return w;
}

export type TileRunner = (pixels: Float32Array, width: number, height: number) => Promise<Float32Array>;

/**
 * Runs `run` on every tile of an HWC RGB image and blends the results. `onTile` hears
 * (done, total) after each tile.
 */
export async function runTiled(pixels: Float32Array, width: number, height: number, o: TileOptions, run: TileRunner, onTile?: (done: number, total: number) => void): Promise<Float32Array> {
  const tiles = tileGrid(width, height, o);
  const out = new Float32Array(width * height * 3);
  const weight = new Float32Array(width * height);
  const xs = [...new Set(tiles.map((t) => t.x))];
  const ys = [...new Set(tiles.map((t) => t.y))];
  // Actual overlap with the neighbouring tile (the last tile can overlap more).
  const overlapOf = (starts: number[], i: number) => (i <= 0 ? 0 : Math.min(o.tile, starts[i - 1]! + o.tile - starts[i]!));
  let done = 0;
  for (const t of tiles) {
    const ix = xs.indexOf(t.x);
    const iy = ys.indexOf(t.y);
    const crop = new Float32Array(t.width * t.height * 3);
    for (let row = 0; row < t.height; row++) {
      const from = ((t.y + row) * width + t.x) * 3;
      crop.set(pixels.subarray(from, from + t.width * 3), row * t.width * 3);
    }
    const result = await run(crop, t.width, t.height);
    const wx = Float32Array.from({ length: t.width }, (_, u) => ramp(u, t.width, ix > 0, ix < xs.length - 1, o, overlapOf(xs, ix), overlapOf(xs, ix + 1)));
    for (let row = 0; row < t.height; row++) {
      const wy = ramp(row, t.height, iy > 0, iy < ys.length - 1, o, overlapOf(ys, iy), overlapOf(ys, iy + 1));
      if (wy === 0) continue;
      for (let col = 0; col < t.width; col++) {
        const w = wy * wx[col]!;
        if (w === 0) continue;
        const p = (t.y + row) * width + t.x + col;
        const q = (row * t.width + col) * 3;
        weight[p] = weight[p]! + w;
        out[3 * p] = out[3 * p]! + w * result[q]!;
        out[3 * p + 1] = out[3 * p + 1]! + w * result[q + 1]!;
        out[3 * p + 2] = out[3 * p + 2]! + w * result[q + 2]!;
      }
    }
    onTile?.(++done, tiles.length);
  }
  for (let p = 0; p < weight.length; p++) {
    const w = weight[p]!;
    out[3 * p] = out[3 * p]! / w;
    out[3 * p + 1] = out[3 * p + 1]! / w;
    out[3 * p + 2] = out[3 * p + 2]! / w;
  }
  return out;
}

/** A downscaled copy (longest side at most maxSide, sides multiples of 4) of an HWC RGB 0..255 image. */
export async function thumbnailOf(pixels: Float32Array, width: number, height: number, maxSide: number): Promise<{ data: Float32Array; width: number; height: number }> {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const tw = Math.max(SIZE_MULTIPLE, Math.round((width * scale) / SIZE_MULTIPLE) * SIZE_MULTIPLE);
  const th = Math.max(SIZE_MULTIPLE, Math.round((height * scale) / SIZE_MULTIPLE) * SIZE_MULTIPLE);
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = pixels[i]! + 0.5;
  const data = await sharp(bytes, { raw: { width, height, channels: 3 } }).resize(tw, th, { fit: 'fill' }).raw().toBuffer();
  return { data: Float32Array.from(data), width: tw, height: th };
}

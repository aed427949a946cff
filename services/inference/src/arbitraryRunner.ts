/**
 * Runs the arbitrary-style network (MicroAST). Its style and content graphs are generated
 * from the version's own artefact; a style image's code (STYLE_CODE) is computed once and
 * kept in a small LRU keyed by the image's sha256, so a repeated style costs only the
 * content pass.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { HttpError, ONNX_INPUT, ONNX_OUTPUT, STRENGTH_INPUT, STYLE_INPUT } from '@nst/common';
import { STYLE_CODE, decodeForNetwork, exportMicroAstOnnx, importMicroAstOnnx } from '@nst/network';
import type { RunInput, Runner } from './styleRunner.ts';

/** Longest side the style image is encoded at. */
const STYLE_SIDE = 512;
const CACHED_STYLES = 64;

export class ArbitraryRunner implements Runner {
  /**
   * The network runs at alpha 1 and strength is the same pixel blend as for the other
   * networks. MicroAST's own alpha blends AdaIN'd features with the raw content features,
   * and its content encoder's features are on a much larger scale than the style statistics:
   * measured on a photo and a painting, alpha 0.95 already saturates 65% of the output
   * pixels and 0.9 almost all of them, so alpha is no usable strength control.
   */
  readonly appliesStrength = false;
  private readonly codes = new Map<string, Record<string, ort.Tensor>>();

  private constructor(
    private readonly style: ort.InferenceSession,
    private readonly content: ort.InferenceSession,
    private readonly maxPixels: number,
  ) {}

  static async create(artefact: Uint8Array, options: ort.InferenceSession.SessionOptions, maxPixels: number): Promise<ArbitraryRunner> {
    const weights = importMicroAstOnnx(artefact);
    const [style, content] = await Promise.all([
      ort.InferenceSession.create(exportMicroAstOnnx(weights, 'style'), options),
      ort.InferenceSession.create(exportMicroAstOnnx(weights, 'content'), options),
    ]);
    return new ArbitraryRunner(style, content, maxPixels);
  }

  /** Whether the style image's code is cached (for the x-style-cache header). */
  cached(styleImage: Uint8Array): boolean {
    return this.codes.has(hash(styleImage));
  }

  async run(input: RunInput): Promise<Float32Array> {
    if (!input.style) throw new HttpError(400, 'this model needs a style image: send a "style" id or a "style_image" file');
    const code = await this.styleCode(input.style);
    const out = await this.content.run({
      [ONNX_INPUT]: new ort.Tensor('float32', input.pixels, [1, input.height, input.width, 3]),
      ...code,
      [STRENGTH_INPUT]: new ort.Tensor('float32', new Float32Array([1]), [1]),
    });
    input.onProgress?.(1, 1);
    return out[ONNX_OUTPUT]!.data as Float32Array;
  }

  private async styleCode(image: Uint8Array): Promise<Record<string, ort.Tensor>> {
    const key = hash(image);
    const hit = this.codes.get(key);
    if (hit) {
      this.codes.delete(key); // most recently used last
      this.codes.set(key, hit);
      return hit;
    }
    const style = await decodeForNetwork(image, STYLE_SIDE, this.maxPixels);
    const out = await this.style.run({ [STYLE_INPUT]: new ort.Tensor('float32', style.data, [1, style.height, style.width, 3]) });
    const code = Object.fromEntries(STYLE_CODE.map((n) => [n, out[n]!]));
    this.codes.set(key, code);
    while (this.codes.size > CACHED_STYLES) this.codes.delete(this.codes.keys().next().value as string);
    return code;
  }

  async release(): Promise<void> {
    await Promise.all([this.style.release().catch(() => undefined), this.content.release().catch(() => undefined)]);
  }
}

const hash = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

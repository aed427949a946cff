/**
 * ONNX graphs of MicroAST, built from the one definition in microAst.ts. Initializers hold the
 * weights in PyTorch layout under their names, so every graph can be read back exactly.
 *
 * - `full` (the model artefact): inputs `image` and `style_image` [1, H, W, 3] RGB 0..255 and
 *   `strength` [1] (MicroAST's alpha, 0..1); output `stylized` [1, H, W, 3] 0..255.
 * - `style`: `style_image` → the style code (STYLE_CODE, each [1, 64, 1, 1]), computed once
 *   per style image and cached.
 * - `content`: `image`, the style code and `strength` → `stylized`: the per-photo pass.
 * The service generates `style` and `content` from the artefact's own weights.
 */
import onnxProto from 'onnx-proto';
import {
  ADAIN_EPSILON,
  DECODER,
  ENCODER,
  MICROAST_PARTS,
  MODULATOR,
  STYLE_CODE,
  assertCompleteMicroAst,
  microAstShapes,
  weightName,
  type MicroAstPart,
  type MicroAstWeights,
  type MicroConv,
  type MicroStep,
  type StyleCodeName,
} from './microAst.ts';
import { ONNX_INPUT, ONNX_OUTPUT, STRENGTH_INPUT, STYLE_INPUT } from '@nst/common';
import { attrInt, attrInts, attrStr, floatTensor, floatValueInfo, type OnnxMetadata } from './onnxFormat.ts';

const { onnx } = onnxProto;
export type MicroAstGraph = 'full' | 'style' | 'content';

class Builder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private counter = 0;

  add(opType: string, inputs: string[], attribute: onnxProto.onnx.IAttributeProto[] = [], name?: string): string {
    const output = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  conv(x: string, part: MicroAstPart, c: MicroConv): string {
    const p = Math.floor(c.kernel / 2);
    const padded = p > 0 ? this.add('Pad', [x, `reflect_pads_${p}`], [attrStr('mode', 'reflect')]) : x;
    const y = this.add('Conv', [padded, weightName(part, c, 'weight'), weightName(part, c, 'bias')], [
      attrInts('kernel_shape', [c.kernel, c.kernel]),
      attrInts('strides', [c.stride, c.stride]),
      attrInt('group', c.groups),
    ]);
    return c.relu ? this.add('Relu', [y]) : y;
  }

  /** x + conv2(relu(conv1(x))), or filter-modulated with w and b (the decoder's blocks). */
  residual(x: string, part: MicroAstPart, s: Extract<MicroStep, { type: 'residual' }>, mod?: { w: string; b: string }): string {
    if (!mod) return this.add('Add', [x, this.conv(this.conv(x, part, s.first), part, s.second)]);
    const modulate = (y: string, input: string) => this.add('Add', [this.add('Mul', [mod.w, y]), this.add('Mul', [mod.b, input])]);
    const x3 = this.add('Relu', [modulate(this.conv(x, part, { ...s.first, relu: false }), x)]);
    return this.add('Add', [x, modulate(this.conv(x3, part, s.second), x3)]);
  }

  steps(x: string, part: MicroAstPart, steps: readonly MicroStep[]): string {
    for (const s of steps) {
      if (s.type === 'conv') x = this.conv(x, part, s.conv);
      else if (s.type === 'residual') x = this.residual(x, part, s);
      else x = this.add('Resize', [x, '', 'upsample_scales'], [attrStr('mode', 'linear'), attrStr('coordinate_transformation_mode', 'half_pixel')]);
    }
    return x;
  }

  /** Per-channel mean and unbiased std (+eps in the variance) over H and W, as AdaIN uses. */
  meanStd(x: string): { mean: string; std: string } {
    const mean = this.add('ReduceMean', [x], [attrInts('axes', [2, 3]), attrInt('keepdims', 1)]);
    const sumSq = this.add('ReduceSumSquare', [this.add('Sub', [x, mean])], [attrInts('axes', [2, 3]), attrInt('keepdims', 1)]);
    const hw = this.add('Slice', [this.add('Shape', [x]), 'dims_hw_start', 'dims_hw_end']);
    const count = this.add('Cast', [this.add('ReduceProd', [hw], [attrInt('keepdims', 0)])], [attrInt('to', onnx.TensorProto.DataType.FLOAT)]);
    const variance = this.add('Add', [this.add('Div', [sumSq, this.add('Sub', [count, 'one'])]), 'adain_epsilon']);
    return { mean, std: this.add('Sqrt', [variance]) };
  }

  /** alpha * AdaIN(x → style) + (1 - alpha) * x. */
  adainBlend(x: string, styleMean: string, styleStd: string): string {
    const { mean, std } = this.meanStd(x);
    const adain = this.add('Add', [this.add('Mul', [this.add('Div', [this.add('Sub', [x, mean]), std]), styleStd]), styleMean]);
    const keep = this.add('Sub', ['one', STRENGTH_INPUT]);
    return this.add('Add', [this.add('Mul', [adain, STRENGTH_INPUT]), this.add('Mul', [x, keep])]);
  }

  /** NHWC 0..255 → NCHW 0..1. */
  imageIn(name: string): string {
    return this.add('Mul', [this.add('Transpose', [name], [attrInts('perm', [0, 3, 1, 2])]), 'inv_255']);
  }

  encoder(image: string, part: 'content_encoder' | 'style_encoder'): { x1: string; x2: string } {
    const x1 = this.steps(this.imageIn(image), part, ENCODER.enc1);
    return { x1, x2: this.steps(x1, part, ENCODER.enc2) };
  }

  /** The style code of a style image, under the STYLE_CODE names. */
  styleCode(styleImage: string): void {
    const { x1, x2 } = this.encoder(styleImage, 'style_encoder');
    const s1 = this.meanStd(x1);
    const s2 = this.meanStd(x2);
    const gap = (x: string, c: MicroConv, name: StyleCodeName) => this.add('GlobalAveragePool', [this.conv(x, 'modulator', c)], [], name);
    this.add('Identity', [s1.mean], [], 'style_mean_1');
    this.add('Identity', [s1.std], [], 'style_std_1');
    this.add('Identity', [s2.mean], [], 'style_mean_2');
    this.add('Identity', [s2.std], [], 'style_std_2');
    gap(x1, MODULATOR.weight1, 'filter_weight_1');
    gap(x1, MODULATOR.bias1, 'filter_bias_1');
    gap(x2, MODULATOR.weight2, 'filter_weight_2');
    gap(x2, MODULATOR.bias2, 'filter_bias_2');
  }

  /** Content pass given the style code (tensors named as STYLE_CODE). */
  content(image: string): string {
    const { x1, x2 } = this.encoder(image, 'content_encoder');
    const a = this.adainBlend(x2, 'style_mean_2', 'style_std_2');
    const b = this.residual(a, 'decoder', DECODER.dec1, { w: 'filter_weight_2', b: 'filter_bias_2' });
    const c = this.adainBlend(b, 'style_mean_1', 'style_std_1');
    const d = this.residual(c, 'decoder', DECODER.dec2, { w: 'filter_weight_1', b: 'filter_bias_1' });
    void x1; // the content's x1 feeds nothing in MicroAST's decoder
    const y = this.steps(d, 'decoder', DECODER.dec3);
    const clipped = this.add('Mul', [this.add('Clip', [y, 'zero', 'one']), 'c_255']);
    return this.add('Transpose', [clipped], [attrInts('perm', [0, 2, 3, 1])], ONNX_OUTPUT);
  }
}

const PARTS_BY_GRAPH: Record<MicroAstGraph, readonly MicroAstPart[]> = {
  full: MICROAST_PARTS,
  style: ['style_encoder', 'modulator'],
  content: ['content_encoder', 'decoder'],
};

// The two images have sizes of their own: distinct dimension names.
const imageInfo = (name: string) => floatValueInfo(name, name === STYLE_INPUT ? [1, 'style_height', 'style_width', 3] : [1, 'height', 'width', 3]);
const codeInfo = (name: string) => floatValueInfo(name, [1, 64, 1, 1]);

export function exportMicroAstOnnx(weights: MicroAstWeights, graph: MicroAstGraph = 'full', metadata: OnnxMetadata = {}): Uint8Array {
  assertCompleteMicroAst(weights);
  const g = new Builder();
  const inputs: onnxProto.onnx.IValueInfoProto[] = [];
  const outputs: onnxProto.onnx.IValueInfoProto[] = [];
  if (graph !== 'content') {
    inputs.push(imageInfo(STYLE_INPUT));
    g.styleCode(STYLE_INPUT);
  }
  if (graph === 'style') {
    outputs.push(...STYLE_CODE.map(codeInfo));
  } else {
    inputs.unshift(imageInfo(ONNX_INPUT));
    if (graph === 'content') inputs.push(...STYLE_CODE.map(codeInfo));
    inputs.push(floatValueInfo(STRENGTH_INPUT, [1]));
    g.content(ONNX_INPUT);
    outputs.push(imageInfo(ONNX_OUTPUT));
  }
  const shapes = microAstShapes();
  const parts = PARTS_BY_GRAPH[graph];
  const initializer = [...shapes].filter(([name]) => parts.some((p) => name.startsWith(`${p}.`))).map(([name, shape]) => floatTensor(name, shape, weights.get(name)!));
  const scalar = (name: string, v: number) => floatTensor(name, [], new Float32Array([v]));
  const int64 = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: v });
  initializer.push(
    scalar('one', 1),
    scalar('zero', 0),
    scalar('inv_255', 1 / 255),
    scalar('c_255', 255),
    scalar('adain_epsilon', ADAIN_EPSILON),
    floatTensor('upsample_scales', [4], new Float32Array([1, 1, 2, 2])),
    int64('dims_hw_start', [2]),
    int64('dims_hw_end', [4]),
    int64('reflect_pads_1', [0, 0, 1, 1, 0, 0, 1, 1]),
    int64('reflect_pads_4', [0, 0, 4, 4, 0, 0, 4, 4]),
  );
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'nst-platform',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: Object.entries({ network: 'microast', graph, ...metadata }).map(([key, value]) => ({ key, value })),
    graph: { name: `microast_${graph}`, node: g.nodes, initializer, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Reads the weights back out of a `full` artefact. */
export function importMicroAstOnnx(bytes: Uint8Array): MicroAstWeights {
  const model = onnx.ModelProto.decode(bytes);
  const shapes = microAstShapes();
  const weights: MicroAstWeights = new Map();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || !shapes.has(t.name)) continue;
    const dims = (t.dims ?? []).map(Number);
    if (dims.join(',') !== shapes.get(t.name)!.join(',')) throw new Error(`ONNX initializer ${t.name} has shape [${dims}], expected [${shapes.get(t.name)}]`);
    weights.set(t.name, new Float32Array(new Uint8Array(t.rawData!).buffer));
  }
  assertCompleteMicroAst(weights);
  return weights;
}

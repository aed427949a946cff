/**
 * ONNX artefact of the style network, built from the one definition in styleNet.ts.
 *
 * Initializers hold the weights in checkpoint layout under their checkpoint names, and the
 * graph transposes them to ONNX's OIHW layout; onnxruntime folds those constant transposes
 * when it loads the model. So an artefact can be read back into training weights exactly.
 *
 * Interface: input `image` float32 [1, H, W, 3], RGB 0..255; output `stylized`, same shape
 * and range. H and W are free; multiples of 4 come back unchanged in size.
 *
 * Two more variants of the same graph serve tiled inference (Thumbnail Instance
 * Normalization): `emit` also outputs every instance norm's per-channel mean and variance
 * (`<layer>_mean`, `<layer>_var`, [1, C, 1, 1]), for a run on a downscaled copy of the whole
 * photo; `take` reads them as inputs instead of computing them, for each tile, so every tile
 * is normalised like the whole image and no seam or colour shift appears between tiles.
 */
import onnxProto from 'onnx-proto';
import { ONNX_INPUT, ONNX_OUTPUT } from '@nst/common';
import {
  INSTANCE_NORM_EPSILON,
  OUTPUT_OFFSET,
  OUTPUT_SCALE,
  STYLE_NET,
  assertCompleteWeights,
  variableShapes,
  type Block,
  type ConvLayer,
  type StyleNetWeights,
} from './styleNet.ts';

const { onnx } = onnxProto;
const OPSET = 17;

/** How the instance norms get their statistics (see the file comment). */
export type NormStats = 'own' | 'emit' | 'take';

export const normMeanName = (l: ConvLayer) => `${l.name}_mean`;
export const normVarName = (l: ConvLayer) => `${l.name}_var`;

type Attr = onnxProto.onnx.IAttributeProto;

/** Attribute, tensor and value-info helpers, shared with the other exported networks. */
export function attrInts(name: string, values: number[]): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
export function attrInt(name: string, value: number): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}
function attrFloat(name: string, value: number): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}
export function attrStr(name: string, value: string): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

export function floatTensor(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

export function floatValueInfo(name: string, dims: (string | number)[]): onnxProto.onnx.IValueInfoProto {
  const dim = (p: string | number) => (typeof p === 'number' ? { dimValue: p } : { dimParam: p });
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map(dim) } } } };
}

const imageValueInfo = (name: string) => floatValueInfo(name, [1, 'height', 'width', 3]);

class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  /** Statistics inputs or outputs of the `emit` and `take` variants. */
  readonly stats: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly normStats: NormStats = 'own') {}

  add(opType: string, inputs: string[], attribute: Attr[] = [], name?: string): string {
    const output = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  convLayer(x: string, l: ConvLayer): string {
    // Checkpoint [kh,kw,in,out] (conv) and [kh,kw,out,in] (deconv) both become ONNX's
    // [first-arg, second-arg, kh, kw] with the same permutation.
    const w = this.add('Transpose', [l.weight], [attrInts('perm', [3, 2, 0, 1])], `${l.name}_kernel`);
    const k = [l.kernel, l.kernel];
    let y: string;
    if (l.type === 'conv') {
      // SAME_UPPER is TensorFlow's 'SAME' padding (the odd extra pixel at the end).
      y = this.add('Conv', [x, w], [attrInts('kernel_shape', k), attrInts('strides', [l.stride, l.stride]), attrStr('auto_pad', 'SAME_UPPER')], `${l.name}_conv`);
    } else {
      // TF conv2d_transpose 'SAME' with output = input * stride pads only at the end.
      const extra = l.kernel - l.stride;
      y = this.add('ConvTranspose', [x, w], [attrInts('kernel_shape', k), attrInts('strides', [l.stride, l.stride]), attrInts('pads', [0, 0, extra, extra])], `${l.name}_deconv`);
    }
    y = this.instanceNorm(y, l);
    return l.relu ? this.add('Relu', [y], [], `${l.name}_relu`) : y;
  }

  private instanceNorm(y: string, l: ConvLayer): string {
    const shape = [1, l.outChannels, 1, 1];
    this.stats.push(floatValueInfo(normMeanName(l), shape), floatValueInfo(normVarName(l), shape));
    let normScale = l.scale;
    if (this.normStats === 'emit') {
      // Population statistics over H and W, as InstanceNormalization computes them.
      const mean = this.add('ReduceMean', [y], [attrInts('axes', [2, 3]), attrInt('keepdims', 1)], normMeanName(l));
      // Var = E[y²] - E[y]², so that no activation-sized temporary is made: this pass runs
      // on the largest image of a tiled run and sets its peak memory.
      const sumSq = this.add('ReduceSumSquare', [y], [attrInts('axes', [2, 3]), attrInt('keepdims', 1)], `${l.name}_sumsq`);
      const hw = this.add('Slice', [this.add('Shape', [y], [], `${l.name}_shape`), 'dims_hw_start', 'dims_hw_end'], [], `${l.name}_hw`);
      const count = this.add('Cast', [this.add('ReduceProd', [hw], [attrInt('keepdims', 0)], `${l.name}_count_i`)], [attrInt('to', onnx.TensorProto.DataType.FLOAT)], `${l.name}_count`);
      const meanSq = this.add('Div', [sumSq, count], [], `${l.name}_meansq`);
      const variance = this.add('Sub', [meanSq, this.add('Mul', [mean, mean], [], `${l.name}_mean2`)], [], normVarName(l));
      // A zero-valued dependency of the norm on the statistics: onnxruntime then computes them
      // while this layer's activations are alive, instead of keeping every layer's until the end.
      const zero = this.add('Mul', [this.add('ReduceMean', [variance], [attrInt('keepdims', 0)], `${l.name}_var_all`), 'zero'], [], `${l.name}_zero`);
      normScale = this.add('Add', [l.scale, zero], [], `${l.name}_scale_dep`);
    }
    if (this.normStats !== 'take') return this.add('InstanceNormalization', [y, normScale, l.shift], [attrFloat('epsilon', INSTANCE_NORM_EPSILON)], `${l.name}_norm`);
    if (this.normStats !== 'take') return this.add('InstanceNormalization', [y, l.scale, l.shift], [attrFloat('epsilon', INSTANCE_NORM_EPSILON)], `${l.name}_norm`);
    // (y - mean) * scale / sqrt(var + eps) + shift, with the statistics given.
    const scale = this.add('Unsqueeze', [l.scale, 'channel_axes'], [], `${l.name}_scale_c11`);
    const shift = this.add('Unsqueeze', [l.shift, 'channel_axes'], [], `${l.name}_shift_c11`);
    const std = this.add('Sqrt', [this.add('Add', [normVarName(l), 'norm_epsilon'], [], `${l.name}_var_eps`)], [], `${l.name}_std`);
    const gain = this.add('Div', [scale, std], [], `${l.name}_gain`);
    const centred = this.add('Sub', [y, normMeanName(l)], [], `${l.name}_centred`);
    return this.add('Add', [this.add('Mul', [centred, gain], [], `${l.name}_scaled`), shift], [], `${l.name}_norm`);
  }

  block(x: string, b: Block): string {
    if (b.type === 'layer') return this.convLayer(x, b.layer);
    const y = this.convLayer(this.convLayer(x, b.first), b.second);
    return this.add('Add', [x, y], [], `${b.name}_add`);
  }
}

export interface OnnxMetadata {
  [key: string]: string;
}

/** Serialises the network with these weights to an ONNX model. */
export function exportOnnx(weights: StyleNetWeights, metadata: OnnxMetadata = {}, net: readonly Block[] = STYLE_NET, normStats: NormStats = 'own'): Uint8Array {
  assertCompleteWeights(weights, net);
  const g = new GraphBuilder(normStats);
  const scalar = (name: string, v: number) => floatTensor(name, [], new Float32Array([v]));

  let x = g.add('Transpose', [ONNX_INPUT], [attrInts('perm', [0, 3, 1, 2])], 'to_nchw');
  for (const b of net) x = g.block(x, b);
  x = g.add('Tanh', [x], [], 'head_tanh');
  x = g.add('Mul', [x, 'head_scale'], [], 'head_mul');
  x = g.add('Add', [x, 'head_offset'], [], 'head_add');
  x = g.add('Clip', [x, 'clip_min', 'clip_max'], [], 'head_clip');
  g.add('Transpose', [x], [attrInts('perm', [0, 2, 3, 1])], ONNX_OUTPUT);

  const initializer = [...variableShapes(net)].map(([name, shape]) => floatTensor(name, shape, weights.get(name)!));
  initializer.push(scalar('head_scale', OUTPUT_SCALE), scalar('head_offset', OUTPUT_OFFSET), scalar('clip_min', 0), scalar('clip_max', 255));
  if (normStats === 'emit') {
    const int64 = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: v });
    initializer.push(scalar('zero', 0), int64('dims_hw_start', [2]), int64('dims_hw_end', [4]));
  }
  if (normStats === 'take') {
    initializer.push(scalar('norm_epsilon', INSTANCE_NORM_EPSILON), { name: 'channel_axes', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1, 2] });
  }

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'nst-platform',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'style_transfer_net',
      node: g.nodes,
      initializer,
      input: [imageValueInfo(ONNX_INPUT), ...(normStats === 'take' ? g.stats : [])],
      output: [imageValueInfo(ONNX_OUTPUT), ...(normStats === 'emit' ? g.stats : [])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Reads the weights (checkpoint layout) back out of an artefact made by exportOnnx. */
export function importOnnx(bytes: Uint8Array, net: readonly Block[] = STYLE_NET): StyleNetWeights {
  const model = onnx.ModelProto.decode(bytes);
  const shapes = variableShapes(net);
  const weights: StyleNetWeights = new Map();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || !shapes.has(t.name)) continue;
    const expected = shapes.get(t.name)!;
    const dims = (t.dims ?? []).map(Number);
    if (dims.join(',') !== expected.join(',')) {
      throw new Error(`ONNX initializer ${t.name} has shape [${dims}], expected [${expected}]`);
    }
    const raw = t.rawData!;
    // Copy: the decoded bytes are a view into the whole file, not necessarily aligned.
    weights.set(t.name, new Float32Array(new Uint8Array(raw).buffer));
  }
  assertCompleteWeights(weights, net);
  return weights;
}


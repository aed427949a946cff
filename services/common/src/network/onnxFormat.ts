/**
 * ONNX artefact of the style network, built from the one definition in styleNet.ts.
 *
 * Initializers hold the weights in checkpoint layout under their checkpoint names, and the
 * graph transposes them to ONNX's OIHW layout; onnxruntime folds those constant transposes
 * when it loads the model. So an artefact can be read back into training weights exactly.
 *
 * Interface: input `image` float32 [1, H, W, 3], RGB 0..255; output `stylized`, same shape
 * and range. H and W are free; multiples of 4 come back unchanged in size.
 */
import onnxProto from 'onnx-proto';
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
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'stylized';
const OPSET = 17;

type Attr = onnxProto.onnx.IAttributeProto;

function ints(name: string, values: number[]): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
function float(name: string, value: number): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}
function str(name: string, value: string): Attr {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function imageValueInfo(name: string): onnxProto.onnx.IValueInfoProto {
  const dim = (p: string | number) => (typeof p === 'number' ? { dimValue: p } : { dimParam: p });
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [dim(1), dim('height'), dim('width'), dim(3)] },
      },
    },
  };
}

class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private counter = 0;

  add(opType: string, inputs: string[], attribute: Attr[] = [], name?: string): string {
    const output = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  convLayer(x: string, l: ConvLayer): string {
    // Checkpoint [kh,kw,in,out] (conv) and [kh,kw,out,in] (deconv) both become ONNX's
    // [first-arg, second-arg, kh, kw] with the same permutation.
    const w = this.add('Transpose', [l.weight], [ints('perm', [3, 2, 0, 1])], `${l.name}_kernel`);
    const k = [l.kernel, l.kernel];
    let y: string;
    if (l.type === 'conv') {
      // SAME_UPPER is TensorFlow's 'SAME' padding (the odd extra pixel at the end).
      y = this.add('Conv', [x, w], [ints('kernel_shape', k), ints('strides', [l.stride, l.stride]), str('auto_pad', 'SAME_UPPER')], `${l.name}_conv`);
    } else {
      // TF conv2d_transpose 'SAME' with output = input * stride pads only at the end.
      const extra = l.kernel - l.stride;
      y = this.add('ConvTranspose', [x, w], [ints('kernel_shape', k), ints('strides', [l.stride, l.stride]), ints('pads', [0, 0, extra, extra])], `${l.name}_deconv`);
    }
    y = this.add('InstanceNormalization', [y, l.scale, l.shift], [float('epsilon', INSTANCE_NORM_EPSILON)], `${l.name}_norm`);
    return l.relu ? this.add('Relu', [y], [], `${l.name}_relu`) : y;
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
export function exportOnnx(weights: StyleNetWeights, metadata: OnnxMetadata = {}, net: readonly Block[] = STYLE_NET): Uint8Array {
  assertCompleteWeights(weights, net);
  const g = new GraphBuilder();
  const scalar = (name: string, v: number) => floatTensor(name, [], new Float32Array([v]));

  let x = g.add('Transpose', [ONNX_INPUT], [ints('perm', [0, 3, 1, 2])], 'to_nchw');
  for (const b of net) x = g.block(x, b);
  x = g.add('Tanh', [x], [], 'head_tanh');
  x = g.add('Mul', [x, 'head_scale'], [], 'head_mul');
  x = g.add('Add', [x, 'head_offset'], [], 'head_add');
  x = g.add('Clip', [x, 'clip_min', 'clip_max'], [], 'head_clip');
  g.add('Transpose', [x], [ints('perm', [0, 2, 3, 1])], ONNX_OUTPUT);

  const initializer = [...variableShapes(net)].map(([name, shape]) => floatTensor(name, shape, weights.get(name)!));
  initializer.push(scalar('head_scale', OUTPUT_SCALE), scalar('head_offset', OUTPUT_OFFSET), scalar('clip_min', 0), scalar('clip_max', 255));

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
      input: [imageValueInfo(ONNX_INPUT)],
      output: [imageValueInfo(ONNX_OUTPUT)],
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

/** Metadata properties stored in an artefact. */
export function readOnnxMetadata(bytes: Uint8Array): OnnxMetadata {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}


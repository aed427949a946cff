/**
 * The style transfer network — Johnson et al. (2016) transform net in Logan Engstrom's
 * fast-style-transfer variant — defined once. Checkpoint import, the TF.js forward pass
 * used for training and reference checks, and the ONNX export all walk this list.
 *
 * Weights live in checkpoint layout everywhere: conv kernels HWIO [kh,kw,in,out];
 * transposed-conv kernels [kh,kw,out,in] (TensorFlow's conv2d_transpose layout).
 */

export interface ConvLayer {
  /** Readable layer name, as in the paper. */
  name: string;
  type: 'conv' | 'deconv';
  kernel: number;
  stride: 1 | 2;
  inChannels: number;
  outChannels: number;
  relu: boolean;
  /** Checkpoint variable names of the kernel and the instance-norm shift and scale. */
  weight: string;
  shift: string;
  scale: string;
}

export type Block =
  | { type: 'layer'; layer: ConvLayer }
  | { type: 'residual'; name: string; first: ConvLayer; second: ConvLayer };

export const INSTANCE_NORM_EPSILON = 1e-3;
/** Output head: clip(tanh(y) * 150 + 127.5, 0, 255). */
export const OUTPUT_SCALE = 150;
export const OUTPUT_OFFSET = 127.5;
/** Two stride-2 downsamplings: sides that are multiples of 4 come back the same size. */
export const SIZE_MULTIPLE = 4;

function variable(id: number): string {
  return id === 0 ? 'Variable' : `Variable_${id}`;
}

function layer(
  name: string,
  firstId: number,
  type: ConvLayer['type'],
  kernel: number,
  stride: 1 | 2,
  inChannels: number,
  outChannels: number,
  relu: boolean,
): ConvLayer {
  return {
    name,
    type,
    kernel,
    stride,
    inChannels,
    outChannels,
    relu,
    weight: variable(firstId),
    shift: variable(firstId + 1),
    scale: variable(firstId + 2),
  };
}

function residual(index: number, firstId: number): Block {
  const name = `res${index}`;
  return {
    type: 'residual',
    name,
    first: layer(`${name}_conv1`, firstId, 'conv', 3, 1, 128, 128, true),
    second: layer(`${name}_conv2`, firstId + 3, 'conv', 3, 1, 128, 128, false),
  };
}

export const STYLE_NET: readonly Block[] = [
  { type: 'layer', layer: layer('conv1', 0, 'conv', 9, 1, 3, 32, true) },
  { type: 'layer', layer: layer('conv2', 3, 'conv', 3, 2, 32, 64, true) },
  { type: 'layer', layer: layer('conv3', 6, 'conv', 3, 2, 64, 128, true) },
  ...[0, 1, 2, 3, 4].map((i) => residual(i + 1, 9 + 6 * i)),
  { type: 'layer', layer: layer('deconv1', 39, 'deconv', 3, 2, 128, 64, true) },
  { type: 'layer', layer: layer('deconv2', 42, 'deconv', 3, 2, 64, 32, true) },
  { type: 'layer', layer: layer('conv_out', 45, 'conv', 9, 1, 32, 3, false) },
];

/** Every conv layer in forward order. */
export function convLayers(net: readonly Block[] = STYLE_NET): ConvLayer[] {
  return net.flatMap((b) => (b.type === 'layer' ? [b.layer] : [b.first, b.second]));
}

/** Checkpoint shape of the kernel of a layer. */
function kernelShape(l: ConvLayer): number[] {
  return l.type === 'conv'
    ? [l.kernel, l.kernel, l.inChannels, l.outChannels]
    : [l.kernel, l.kernel, l.outChannels, l.inChannels];
}

/** Every variable with its shape, in checkpoint id order (Variable, Variable_1, …). */
export function variableShapes(net: readonly Block[] = STYLE_NET): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const l of convLayers(net)) {
    shapes.set(l.weight, kernelShape(l));
    shapes.set(l.shift, [l.outChannels]);
    shapes.set(l.scale, [l.outChannels]);
  }
  return shapes;
}

/** Weights by checkpoint variable name, float32 in checkpoint layout. */
export type StyleNetWeights = Map<string, Float32Array>;

export function parameterCount(net: readonly Block[] = STYLE_NET): number {
  let n = 0;
  for (const shape of variableShapes(net).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Throws unless every variable is present with the right number of values. */
export function assertCompleteWeights(weights: StyleNetWeights, net: readonly Block[] = STYLE_NET): void {
  for (const [name, shape] of variableShapes(net)) {
    const w = weights.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`style network weights lack ${name}`);
    if (w.length !== size) {
      throw new Error(`style network weight ${name} has ${w.length} values, expected ${size} (${shape.join('x')})`);
    }
  }
}

/** Rounds a side to the network's size multiple (at least one multiple). */
export function roundToNetworkSize(side: number): number {
  return Math.max(SIZE_MULTIPLE, Math.round(side / SIZE_MULTIPLE) * SIZE_MULTIPLE);
}

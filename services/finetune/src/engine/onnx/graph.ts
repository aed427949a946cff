/**
 * An ONNX graph builder that differentiates what it builds. Each forward op emits its ONNX
 * nodes and records one backward rule; `gradients()` walks the record in reverse and emits
 * the backward nodes into the same graph, so forward activations and their gradients live
 * inside one `session.run` and onnxruntime's memory planner frees each as soon as the
 * backward pass is past it.
 *
 * Layout is NCHW; every value carries its static shape (a graph is built for one batch and
 * image size), which the rules need for pads, slices and normalisations. Convolution
 * kernels enter in checkpoint layout (styleNet.ts) and their gradients leave in it.
 *
 * Convolution gradients are shaped for onnxruntime's GEMM: the weight gradient is one Gemm
 * per image (and kernel row chunk) of dy [O, pixels] against an im2col matrix built from
 * k² strided Slices + Concat, with the pixels as the long, reduced dimension; the input
 * gradient of a stride-1 convolution is a plain Conv with the flipped, transposed kernel
 * (faster than ConvTranspose here), of a stride-2 one a ConvTranspose.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;
const OPSET = 17;

export interface Value {
  name: string;
  shape: number[];
  /** Whether the value depends on a differentiated input. */
  grad: boolean;
}

interface TapeEntry {
  output: Value;
  inputs: Value[];
  /** Emits the input gradients given the output's gradient (null where not needed). */
  backward: (dy: string) => Array<string | null>;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** TensorFlow 'SAME' padding of one spatial axis: [begin, end] (the odd pixel at the end). */
function samePads(input: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(input / stride);
  const total = Math.max((out - 1) * stride + kernel - input, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

const attr = {
  ints: (name: string, ints: number[]): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints }),
  int: (name: string, i: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  float: (name: string, f: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f }),
};

export type WeightGradientMethod = 'im2col' | 'shift-dy' | 'conv';
export interface WeightGradientLayer {
  kernel: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  pixels: number;
}

/**
 * Measured per layer on onnxruntime-node (2 threads, bench/finetuneLayers.ts): im2col is
 * as fast or faster for the 3×3 layers; for 9×9 kernels the k² copies dominate, so the
 * output layer (32→3) shifts its 3-channel dy instead (2.5–4× faster than the Conv, 6×
 * than im2col) and the input layer (3→32) runs as one batch-swapped Conv (even or better).
 */
function fastestWeightGradient(l: WeightGradientLayer): WeightGradientMethod {
  if (l.kernel < 5) return 'im2col';
  return l.stride === 1 && l.outChannels < l.inChannels ? 'shift-dy' : 'conv';
}

/** Largest im2col matrix (floats) the weight gradient builds at once; beyond it, kernel rows go in chunks. */
const IM2COL_BUDGET = 1 << 24;

export class TrainingGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly tape: TapeEntry[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;
  /** Prefix of the node names emitted now (the layer being built), for profiles. */
  scope = '';

  /** Emits one node; returns its (first) output name. */
  node(op: string, inputs: string[], attributes: Attr[] = [], outputCount = 1): string {
    const base = `${this.scope}${op.toLowerCase()}_${this.counter++}`;
    const output = Array.from({ length: outputCount }, (_, i) => (i === 0 ? base : `${base}_${i}`));
    this.nodes.push({ opType: op, input: inputs, output, name: base, attribute: attributes });
    return base;
  }

  /** A float32 constant, deduplicated by value for small ones. */
  constant(data: ArrayLike<number>, dims: number[]): string {
    const key = data.length <= 16 ? `f${dims.join('x')}:${Array.from(data).join(',')}` : null;
    if (key && this.constants.has(key)) return this.constants.get(key)!;
    const name = `const_${this.counter++}`;
    const f = Float32Array.from(data);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(f.buffer) });
    if (key) this.constants.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.constant([v], []);
  }

  int64s(values: number[]): string {
    const key = `i:${values.join(',')}`;
    if (this.constants.has(key)) return this.constants.get(key)!;
    const name = `const_${this.counter++}`;
    const b = BigInt64Array.from(values.map(BigInt));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(b.buffer) });
    this.constants.set(key, name);
    return name;
  }

  /** A graph input. */
  input(name: string, shape: number[], grad: boolean): Value {
    this.inputs.push(valueInfo(name, shape));
    return { name, shape, grad };
  }

  /** A constant value (never differentiated). */
  constantValue(data: Float32Array, shape: number[]): Value {
    return { name: this.constant(data, shape), shape, grad: false };
  }

  /** Marks a value as a graph output under `name`. */
  output(v: Value | string, name: string, shape: number[]): void {
    this.nodes.push({ opType: 'Identity', input: [typeof v === 'string' ? v : v.name], output: [name], name });
    this.outputs.push(valueInfo(name, shape));
  }

  private record(name: string, shape: number[], inputs: Value[], backward: TapeEntry['backward']): Value {
    const output = { name, shape, grad: inputs.some((i) => i.grad) };
    const scope = this.scope;
    const inScope = (dy: string) => {
      this.scope = `${scope}grad/`;
      try {
        return backward(dy);
      } finally {
        this.scope = '';
      }
    };
    if (output.grad) this.tape.push({ output, inputs, backward: inScope });
    return output;
  }

  private reshape(x: string, shape: number[]): string {
    return this.node('Reshape', [x, this.int64s(shape)]);
  }

  private slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.int64s(starts), this.int64s(ends), this.int64s(axes)];
    if (steps) ins.push(this.int64s(steps));
    return this.node('Slice', ins);
  }

  private pad(x: string, rank: number, begin: Record<number, number>, end: Record<number, number>): string {
    const pads = [...Array.from({ length: rank }, (_, i) => begin[i] ?? 0), ...Array.from({ length: rank }, (_, i) => end[i] ?? 0)];
    return this.node('Pad', [x, this.int64s(pads)]);
  }

  private where(cond: string, x: string): string {
    return this.node('Where', [cond, x, this.scalar(0)]);
  }

  // ---- ops, each with its backward rule ----

  /**
   * Convolution, TensorFlow 'SAME' padding, no bias unless given (a constant). Kernel in
   * checkpoint layout [k, k, in, out].
   */
  conv(x: Value, kernel: Value, stride: number, bias?: string): Value {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const [k, , ci, co] = kernel.shape as [number, number, number, number];
    if (ci !== c) throw new Error(`conv: input has ${c} channels, kernel expects ${ci}`);
    const [pt, pb] = samePads(h, k, stride);
    const [pl, pr] = samePads(w, k, stride);
    const oh = Math.ceil(h / stride);
    const ow = Math.ceil(w / stride);
    const oihw = this.node('Transpose', [kernel.name], [attr.ints('perm', [3, 2, 0, 1])]);
    const ins = [x.name, oihw, ...(bias ? [bias] : [])];
    const attrs = [attr.ints('kernel_shape', [k, k]), attr.ints('strides', [stride, stride]), attr.ints('pads', [pt, pl, pb, pr])];
    const y = this.node('Conv', ins, attrs);
    return this.record(y, [n, co, oh, ow], [x, kernel], (dy) => {
      let dx: string | null = null;
      if (x.grad) {
        if (stride === 1) {
          // Full correlation with the flipped kernel, in/out swapped: [in, out, k, k].
          const flipped = this.slice(kernel.name, [-1, -1], [-k - 1, -k - 1], [0, 1], [-1, -1]);
          const iokk = this.node('Transpose', [flipped], [attr.ints('perm', [2, 3, 0, 1])]);
          dx = this.node('Conv', [dy, iokk], [attr.ints('kernel_shape', [k, k]), attr.ints('pads', [k - 1 - pt, k - 1 - pl, k - 1 - pb, k - 1 - pr])]);
        } else {
          const outPad = [h - (stride * (oh - 1) + k - pt - pb), w - (stride * (ow - 1) + k - pl - pr)];
          dx = this.node('ConvTranspose', [dy, oihw], [...attrs, attr.ints('output_padding', outPad)]);
        }
      }
      const dw = kernel.grad ? this.weightGradient(x.name, [n, c, h, w], dy, co, k, stride, [pt, pl, pb, pr], [oh, ow]) : null;
      return [dx, dw];
    });
  }

  /**
   * Transposed convolution, the adjoint of a 'SAME' convolution from the output size
   * (output = input × stride). Kernel in checkpoint layout [k, k, out, in].
   */
  deconv(x: Value, kernel: Value, stride: number): Value {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const [k, , co, ci] = kernel.shape as [number, number, number, number];
    if (ci !== c) throw new Error(`deconv: input has ${c} channels, kernel expects ${ci}`);
    const [oh, ow] = [h * stride, w * stride];
    const [pt, pb] = samePads(oh, k, stride);
    const [pl, pr] = samePads(ow, k, stride);
    const iokk = this.node('Transpose', [kernel.name], [attr.ints('perm', [3, 2, 0, 1])]);
    const attrs = [attr.ints('kernel_shape', [k, k]), attr.ints('strides', [stride, stride]), attr.ints('pads', [pt, pl, pb, pr])];
    const y = this.node('ConvTranspose', [x.name, iokk], attrs);
    return this.record(y, [n, co, oh, ow], [x, kernel], (dy) => {
      // The adjoint of the adjoint: a strided Conv whose kernel [in, out, k, k] is the same tensor.
      const dx = x.grad ? this.node('Conv', [dy, iokk], attrs) : null;
      // dW[i,o,a,b] = Σ x[i,y,x]·dy[o, y·s+a−pt, x·s+b−pl]: a conv weight gradient with dy as
      // the input and x as the output gradient, whose [k,k,co,ci] is the checkpoint's [k,k,out,in].
      const dw = kernel.grad ? this.weightGradient(dy, [n, co, oh, ow], x.name, c, k, stride, [pt, pl, pb, pr], [h, w]) : null;
      return [dx, dw];
    });
  }

  /**
   * Gradient of a 'SAME' conv's kernel, in checkpoint layout [k, k, in, out]:
   * dW[a,b,i,o] = Σ_n,pixels dy[n,o,p] · xpad[n,i,p·s+(a,b)].
   */
  private weightGradient(
    x: string,
    xShape: [number, number, number, number],
    dy: string,
    out: number,
    k: number,
    stride: number,
    pads: [number, number, number, number],
    outSize: [number, number],
  ): string {
    const method = this.weightGradientMethod({ kernel: k, inChannels: xShape[1], outChannels: out, stride, pixels: outSize[0] * outSize[1] });
    if (method === 'shift-dy' && stride === 1) {
      // dW[a,b,i,o] = Σ_q x[i,q] · dy[o, q − (a,b) + pad]: the k² shifted copies are of dy,
      // which pays when dy has fewer channels than x (the output layer's 3).
      const [pt, pl] = pads;
      const dypad = this.pad(dy, 4, { 2: k - 1 - pt, 3: k - 1 - pl }, { 2: pt, 3: pl });
      const g = this.weightGradientIm2col(dypad, [xShape[0], out, 0, 0], x, xShape[1], k, 1, outSize, (a) => k - 1 - a);
      // g is [k, k, out, in] in the flipped offsets' order: back to [k, k, in, out].
      return this.node('Transpose', [g], [attr.ints('perm', [0, 1, 3, 2])]);
    }
    const xpad = pads.some((p) => p > 0) ? this.pad(x, 4, { 2: pads[0], 3: pads[1] }, { 2: pads[2], 3: pads[3] }) : x;
    return method === 'conv' ? this.weightGradientConv(xpad, xShape, dy, stride) : this.weightGradientIm2col(xpad, xShape, dy, out, k, stride, outSize);
  }

  /**
   * Per image, an im2col matrix of k² strided Slices + Concat [k²·in, pixels] and one Gemm
   * with dy [out, pixels], transposed: the pixels are the GEMM's long, reduced dimension.
   */
  private weightGradientIm2col(
    xpad: string,
    xShape: [number, number, number, number],
    dy: string,
    out: number,
    k: number,
    stride: number,
    outSize: [number, number],
    offset: (a: number) => number = (a) => a,
  ): string {
    const [n, c] = xShape;
    const [oh, ow] = outSize;
    const pixels = oh * ow;
    const rowsPerChunk = Math.max(1, Math.min(k, Math.floor(IM2COL_BUDGET / (k * c * pixels))));
    const images = n === 1 ? [xpad] : this.split(xpad, n);
    const dys = n === 1 ? [dy] : this.split(dy, n);
    const perImage: string[] = [];
    for (let img = 0; img < n; img++) {
      const dy2 = this.reshape(dys[img]!, [out, pixels]);
      const chunks: string[] = [];
      for (let a0 = 0; a0 < k; a0 += rowsPerChunk) {
        const slices: string[] = [];
        for (let a = a0; a < Math.min(k, a0 + rowsPerChunk); a++) {
          for (let b = 0; b < k; b++) {
            const [sa, sb] = [offset(a), offset(b)];
            slices.push(this.slice(images[img]!, [sa, sb], [sa + stride * (oh - 1) + 1, sb + stride * (ow - 1) + 1], [2, 3], [stride, stride]));
          }
        }
        const cols = this.reshape(slices.length === 1 ? slices[0]! : this.node('Concat', slices, [attr.int('axis', 1)]), [slices.length * c, pixels]);
        chunks.push(this.node('Gemm', [dy2, cols], [attr.int('transB', 1)]));
      }
      perImage.push(chunks.length === 1 ? chunks[0]! : this.node('Concat', chunks, [attr.int('axis', 1)]));
    }
    const total = perImage.length === 1 ? perImage[0]! : this.node('Sum', perImage);
    // [out, (a, b, in)] → [k, k, in, out]
    return this.node('Transpose', [this.reshape(total, [out, k, k, c])], [attr.ints('perm', [1, 2, 3, 0])]);
  }

  /**
   * One Conv with the batch and channel axes swapped: the input's channels become the
   * batch, dy (dilated by the stride) the kernel; the output [in, out, k, k] is dW. Works
   * through onnxruntime's im2col in per-channel pieces, never the whole matrix at once.
   */
  private weightGradientConv(xpad: string, xShape: [number, number, number, number], dy: string, stride: number): string {
    // With one image the swap is a free reshape.
    const swap = (t: string) => (xShape[0] === 1 ? this.reshape(t, [-1, 1, 0, 0]) : this.node('Transpose', [t], [attr.ints('perm', [1, 0, 2, 3])]));
    const g = this.node('Conv', [swap(xpad), swap(dy)], [attr.ints('dilations', [stride, stride])]);
    return this.node('Transpose', [g], [attr.ints('perm', [2, 3, 0, 1])]);
  }

  /** Which weight-gradient formulation a layer uses; the default is what measured fastest. */
  weightGradientMethod: (layer: WeightGradientLayer) => WeightGradientMethod = fastestWeightGradient;

  /** Splits a batch into its images, each [1, …]. */
  private split(x: string, n: number): string[] {
    const first = this.node('Split', [x, this.int64s(Array(n).fill(1))], [attr.int('axis', 0)], n);
    return Array.from({ length: n }, (_, i) => (i === 0 ? first : `${first}_${i}`));
  }

  /** Instance normalisation over H×W per image and channel, then scale and shift [C]. */
  instanceNorm(x: Value, scale: Value, shift: Value, epsilon: number): Value {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const mean = this.node('ReduceMean', [x.name], [attr.ints('axes', [2, 3])]);
    const centred = this.node('Sub', [x.name, mean]);
    const variance = this.node('ReduceMean', [this.node('Mul', [centred, centred])], [attr.ints('axes', [2, 3])]);
    const rstd = this.node('Reciprocal', [this.node('Sqrt', [this.node('Add', [variance, this.scalar(epsilon)])])]);
    const xhat = this.node('Mul', [centred, rstd]);
    const gamma = this.reshape(scale.name, [1, c, 1, 1]);
    const y = this.node('Add', [this.node('Mul', [xhat, gamma]), this.reshape(shift.name, [1, c, 1, 1])]);
    return this.record(y, [n, c, h, w], [x, scale, shift], (dy) => {
      const meanDy = this.node('ReduceMean', [dy], [attr.ints('axes', [2, 3])]);
      const meanDyXhat = this.node('ReduceMean', [this.node('Mul', [dy, xhat])], [attr.ints('axes', [2, 3])]);
      const hw = this.scalar(h * w);
      const dScale = scale.grad ? this.reshape(this.node('Mul', [this.node('ReduceSum', [meanDyXhat, this.int64s([0, 2, 3])], [attr.int('keepdims', 0)]), hw]), [c]) : null;
      const dShift = shift.grad ? this.reshape(this.node('Mul', [this.node('ReduceSum', [meanDy, this.int64s([0, 2, 3])], [attr.int('keepdims', 0)]), hw]), [c]) : null;
      let dx: string | null = null;
      if (x.grad) {
        // dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂))
        const inner = this.node('Sub', [this.node('Sub', [dy, meanDy]), this.node('Mul', [xhat, meanDyXhat])]);
        dx = this.node('Mul', [inner, this.node('Mul', [rstd, gamma])]);
      }
      return [dx, dScale, dShift];
    });
  }

  relu(x: Value): Value {
    const y = this.node('Relu', [x.name]);
    return this.record(y, x.shape, [x], (dy) => [this.where(this.node('Greater', [y, this.scalar(0)]), dy)]);
  }

  /** clip(tanh(x) · scale + offset, lo, hi): the style network's output head. */
  outputHead(x: Value, scale: number, offset: number, lo: number, hi: number): Value {
    const t = this.node('Tanh', [x.name]);
    const pre = this.node('Add', [this.node('Mul', [t, this.scalar(scale)]), this.scalar(offset)]);
    const y = this.node('Clip', [pre, this.scalar(lo), this.scalar(hi)]);
    return this.record(y, x.shape, [x], (dy) => {
      // Clip passes the gradient where lo ≤ pre ≤ hi (TensorFlow's convention).
      const inside = this.node('And', [this.node('GreaterOrEqual', [pre, this.scalar(lo)]), this.node('LessOrEqual', [pre, this.scalar(hi)])]);
      const dtanh = this.node('Mul', [this.node('Sub', [this.scalar(1), this.node('Mul', [t, t])]), this.scalar(scale)]);
      return [this.where(inside, this.node('Mul', [dy, dtanh]))];
    });
  }

  transpose(x: Value, perm: number[]): Value {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const y = this.node('Transpose', [x.name], [attr.ints('perm', perm)]);
    return this.record(y, perm.map((p) => x.shape[p]!), [x], (dy) => [this.node('Transpose', [dy], [attr.ints('perm', inverse)])]);
  }

  add(a: Value, b: Value): Value {
    if (a.shape.join() !== b.shape.join()) throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
    return this.record(this.node('Add', [a.name, b.name]), a.shape, [a, b], (dy) => [dy, dy]);
  }

  /** x − c, c a constant broadcast over x (VGG's mean subtraction). */
  subConstant(x: Value, c: string): Value {
    return this.record(this.node('Sub', [x.name, c]), x.shape, [x], (dy) => [dy]);
  }

  /** x · c for a constant c. */
  scaleBy(x: Value, c: number): Value {
    return this.record(this.node('Mul', [x.name, this.scalar(c)]), x.shape, [x], (dy) => [this.node('Mul', [dy, this.scalar(c)])]);
  }

  /** 2×2 max-pool, stride 2 ('valid': an odd last row or column is dropped). */
  maxPool2(x: Value): Value {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const attrs = [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])];
    const withIndices = x.grad && this.poolGradient === 'indices';
    const y = this.node('MaxPool', [x.name], attrs, withIndices ? 2 : 1);
    return this.record(y, [n, c, Math.floor(h / 2), Math.floor(w / 2)], [x], (dy) => {
      if (h % 2 || w % 2) throw new Error(`maxPool2: the gradient needs even sides, got ${h}x${w}`);
      if (withIndices) {
        // onnxruntime's indices count over the whole flattened tensor: scatter dy there.
        const flat = this.node('ConstantOfShape', [this.int64s([n * c * h * w])]);
        const scattered = this.node('ScatterElements', [flat, this.reshape(`${y}_1`, [-1]), this.reshape(dy, [-1])], [attr.int('axis', 0)]);
        return [this.reshape(scattered, [n, c, h, w])];
      }
      // Each pooled value's gradient goes to the input that equals it (ties are measure-zero:
      // after a ReLU they sit at 0, where the ReLU's own gradient is 0).
      const up = (t: string) => this.reshape(this.node('Expand', [this.reshape(t, [n, c, h / 2, 1, w / 2, 1]), this.int64s([n, c, h / 2, 2, w / 2, 2])]), [n, c, h, w]);
      return [this.where(this.node('Equal', [x.name, up(y)]), up(dy))];
    });
  }

  /** How max-pool gradients are routed: scattering by MaxPool's indices measured 1.5–3× faster than a mask. */
  poolGradient: 'mask' | 'indices' = 'indices';

  /** Gram matrix [N, C, C] / (H·W·C) of [N, C, H, W] features. */
  gram(x: Value): Value {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const norm = this.scalar(1 / (h * w * c));
    const f = this.reshape(x.name, [n, c, h * w]);
    const g = this.node('Mul', [this.node('MatMul', [f, this.node('Transpose', [f], [attr.ints('perm', [0, 2, 1])])]), norm]);
    return this.record(g, [n, c, c], [x], (dy) => {
      const sym = this.node('Add', [dy, this.node('Transpose', [dy], [attr.ints('perm', [0, 2, 1])])]);
      return [this.reshape(this.node('Mul', [this.node('MatMul', [sym, f]), norm]), [n, c, h, w])];
    });
  }

  /** mean((a − target)²) as a scalar; the target (not differentiated) may broadcast. */
  meanSquaredError(a: Value, target: string): Value {
    const d = this.node('Sub', [a.name, target]);
    const loss = this.node('ReduceMean', [this.node('Mul', [d, d])], [attr.int('keepdims', 0)]);
    return this.record(loss, [], [a], (dy) => [this.node('Mul', [d, this.node('Mul', [dy, this.scalar(2 / size(a.shape))])])]);
  }

  /** mean of squared differences of neighbours down plus across, [N, C, H, W]. */
  totalVariation(x: Value): Value {
    const [, , h, w] = x.shape as [number, number, number, number];
    const term = (axis: number, len: number) => {
      const d = this.node('Sub', [this.slice(x.name, [1], [len], [axis]), this.slice(x.name, [0], [len - 1], [axis])]);
      return { d, loss: this.node('ReduceMean', [this.node('Mul', [d, d])], [attr.int('keepdims', 0)]), count: (size(x.shape) / len) * (len - 1), axis };
    };
    const terms = [term(2, h), term(3, w)];
    const loss = this.node('Add', [terms[0]!.loss, terms[1]!.loss]);
    return this.record(loss, [], [x], (dy) => {
      const parts = terms.map((t) => {
        const g = this.node('Mul', [t.d, this.node('Mul', [dy, this.scalar(2 / t.count)])]);
        // d = x[1:] − x[:-1]: +g to the later pixel, −g to the earlier one.
        return this.node('Sub', [this.pad(g, 4, { [t.axis]: 1 }, {}), this.pad(g, 4, {}, { [t.axis]: 1 })]);
      });
      return [this.node('Add', parts)];
    });
  }

  /** Sum of scalars. */
  sum(values: Value[]): Value {
    return this.record(this.node('Sum', values.map((v) => v.name)), [], values, (dy) => values.map(() => dy));
  }

  // ---- backward ----

  /** Emits the gradients of the scalar `loss` with respect to `wrt`; returns their names. */
  gradients(loss: Value, wrt: Value[]): Map<string, string> {
    const contributions = new Map<string, string[]>([[loss.name, [this.scalar(1)]]]);
    const collect = (name: string): string | null => {
      const parts = contributions.get(name);
      if (!parts?.length) return null;
      return parts.length === 1 ? parts[0]! : this.node('Sum', parts);
    };
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const e = this.tape[i]!;
      const dy = collect(e.output.name);
      if (!dy) continue;
      const dxs = e.backward(dy);
      e.inputs.forEach((input, j) => {
        const dx = dxs[j];
        if (!input.grad || !dx) return;
        const list = contributions.get(input.name) ?? [];
        list.push(dx);
        contributions.set(input.name, list);
      });
    }
    const out = new Map<string, string>();
    for (const v of wrt) {
      const g = collect(v.name);
      // A weight the loss does not reach has a zero gradient.
      out.set(v.name, g ?? this.constant(new Float32Array(size(v.shape)), v.shape));
    }
    return out;
  }

  /** Serialises the graph. */
  encode(name: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'nst-platform',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, shape: number[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

/**
 * Kernels the TF.js wasm backend lacks (or runs slowly) for training the style network.
 *
 * - Conv2DBackpropFilter is missing: computed as im2col (strided slices of the padded input)
 *   times the output gradient, one matrix product per group of kernel offsets.
 * - Conv2DBackpropInput exists but is a scalar loop (it is also the forward pass of the
 *   transposed convolutions): recast as a stride-1 XNNPACK convolution of the zero-dilated
 *   output gradient with the flipped kernel.
 * - BatchMatMul is only fast (XNNPACK) for a single untransposed product; anything else falls
 *   back to a scalar triple loop. Gradients of every matMul use transposes, so the override
 *   transposes explicitly (cheap, memory-bound) and loops over the batch instead.
 *
 * The kernels are written with TF.js ops on the same backend; they run inside a kernel,
 * where the engine does not record a tape, so they add nothing to the gradient graph.
 */
import * as tf from '@tensorflow/tfjs';
import {
  backend_util,
  type BatchMatMulAttrs,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs';

/** im2col chunks stay under this many floats (64 MiB) so large images don't exhaust the wasm heap. */
const MAX_CHUNK_FLOATS = 16 * 1024 * 1024;

/** Kernel inputs are normally the caller's tensors; plain TensorInfos get a counted wrapper. */
function asTensor(info: TensorInfo): { t: tf.Tensor; release: () => void } {
  if (info instanceof tf.Tensor) return { t: info, release: () => undefined };
  tf.engine().backend.incRef(info.dataId);
  const t = tf.engine().makeTensorFromTensorInfo(info);
  return { t, release: () => t.dispose() };
}

/**
 * Rows of `flat` ([rows, length]) from `row`, `count` of them, columns [start, start + len):
 * a plain 2-D slice (row-wise memcpy in the backend).
 */
function window2d(flat: tf.Tensor2D, row: number, count: number, start: number, len: number): tf.Tensor2D {
  return tf.slice(flat, [row, start], [count, len]);
}

/** The (kh, kw) kernel offsets, in filter order, in groups whose im2col block stays small. */
function offsetChunks(fh: number, fw: number, floatsPerOffset: number): Array<Array<[number, number]>> {
  const all: Array<[number, number]> = [];
  for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) all.push([a, b]);
  const per = Math.max(1, Math.floor(MAX_CHUNK_FLOATS / floatsPerOffset));
  const chunks: Array<Array<[number, number]>> = [];
  for (let i = 0; i < all.length; i += per) chunks.push(all.slice(i, i + per));
  return chunks;
}

/**
 * dW[a,b,ci,co] = Σ_{n,i,j} xPadded[n, i·s + a, j·s + b, ci] · dy[n, i, j, co].
 *
 * im2col without 4-D gathers: x is split by stride phase, channels first, and each phase
 * image flattened with a fixed row width Ws. A kernel offset's window is then one contiguous
 * column range of that matrix (rows wrap into the next row, and dy is zero-padded to width
 * Ws so the wrapped columns contribute nothing). Windows of several offsets are stacked and
 * multiplied with dy in one matrix product.
 */
function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Conv2DBackpropFilterAttrs): tf.Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (wasm): only NHWC is supported, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co } = info;
  const { top, left } = info.padInfo;
  if (sh === 1 && sw === 1 && co < ci) return filterGradShiftingDy(x, dy, fh, fw, top, left);
  return tf.tidy(() => {
    const [n, ho, wo] = dy.shape;
    // Phase images: rows for every offset plus one spare row that absorbs the wrap-around.
    const hs = ho + Math.floor((fh - 1) / sh) + 1;
    const ws = wo + Math.floor((fw - 1) / sw);
    const padded = padOrCrop(x, top, left, hs * sh, ws * sw);
    // Channels first, then split rows and columns by stride phase: [sh·sw, n, ci, hs·ws]. Only
    // 4-D transposes: the backend does those fast (6-D ones and strided slices are slow).
    const channelsFirst = tf.transpose(padded, [0, 3, 1, 2]);
    const phases = tf.reshape(tf.transpose(tf.reshape(channelsFirst, [n * ci * hs, sh, ws, sw]), [1, 3, 0, 2]), [sh * sw, n, ci, hs * ws]);
    const dyWide = tf.reshape(tf.pad(dy, [[0, 0], [0, 0], [0, ws - wo], [0, 0]]), [n, ho * ws, co]);
    const len = ho * ws;
    const chunks: tf.Tensor[] = [];
    for (const offsets of offsetChunks(fh, fw, ci * len)) {
      let sum: tf.Tensor | null = null;
      for (let img = 0; img < n; img++) {
        const ph = Array.from({ length: sh * sw }, (_, p) => tf.reshape(tf.slice(phases, [p, img, 0, 0], [1, 1, ci, hs * ws]), [ci, hs * ws]) as tf.Tensor2D);
        const d = tf.reshape(tf.slice(dyWide, [img, 0, 0], [1, -1, -1]), [len, co]) as tf.Tensor2D;
        const windows = offsets.map(([a, b]) => window2d(ph[(a % sh) * sw + (b % sw)]!, 0, ci, Math.floor(a / sh) * ws + Math.floor(b / sw), len));
        const cols = windows.length === 1 ? windows[0]! : tf.concat(windows, 0);
        const part = tf.matMul(cols, d); // [offsets·ci, co]
        tf.dispose([...ph, d, ...windows, cols]);
        const next: tf.Tensor = sum ? tf.add(sum, part) : part;
        if (sum) tf.dispose([sum, part]);
        sum = next;
      }
      chunks.push(sum!);
    }
    const all = chunks.length === 1 ? chunks[0]! : tf.concat(chunks, 0);
    return tf.reshape(all, [fh, fw, ci, co]);
  });
}

/** x padded with zeros at the top and left, then padded or cropped to height × width. */
function padOrCrop(x: tf.Tensor4D, top: number, left: number, height: number, width: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const bottom = height - top - h;
  const right = width - left - w;
  const padded = tf.pad(x, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]);
  return bottom < 0 || right < 0 ? tf.slice(padded, [0, 0, 0, 0], [n, height, width, c]) : padded;
}

/**
 * Stride-1 filter gradient that shifts dy instead of x, for layers with fewer output than
 * input channels (the 9×9 output layer: 3 channels copied per offset instead of 32):
 * dW[a,b,ci,co] = Σ_{n,p,q} xPadded[n,p,q,ci] · dy[n, p-a, q-b, co], dy zero outside.
 * Same flattening trick, with x zero-padded to the row width so wrapped columns vanish.
 */
function filterGradShiftingDy(x: tf.Tensor4D, dy: tf.Tensor4D, fh: number, fw: number, top: number, left: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, ho, wo, co] = dy.shape;
    const ci = x.shape[3];
    const hp = ho + fh - 1;
    const w2 = wo + 2 * (fw - 1);
    const xWide = tf.reshape(padOrCrop(x, top, left, hp, w2), [n, hp * w2, ci]);
    // dy channels first, padded by the kernel size all round plus a spare row for the wrap-around.
    const dyPad = tf.pad(dy, [[0, 0], [fh - 1, fh], [fw - 1, fw - 1], [0, 0]]);
    const dyRows = tf.reshape(tf.transpose(dyPad, [0, 3, 1, 2]), [n, co, (ho + 2 * fh - 1) * w2]);
    const len = hp * w2;
    const chunks: tf.Tensor[] = [];
    for (const offsets of offsetChunks(fh, fw, co * len)) {
      let sum: tf.Tensor | null = null;
      for (let img = 0; img < n; img++) {
        const d = tf.reshape(tf.slice(dyRows, [img, 0, 0], [1, -1, -1]), [co, (ho + 2 * fh - 1) * w2]) as tf.Tensor2D;
        const xi = tf.reshape(tf.slice(xWide, [img, 0, 0], [1, -1, -1]), [len, ci]) as tf.Tensor2D;
        const windows = offsets.map(([a, b]) => window2d(d, 0, co, (fh - 1 - a) * w2 + (fw - 1 - b), len));
        const cols = windows.length === 1 ? windows[0]! : tf.concat(windows, 0);
        const part = tf.matMul(cols, xi); // [offsets·co, ci]
        tf.dispose([d, xi, ...windows, cols]);
        const next: tf.Tensor = sum ? tf.add(sum, part) : part;
        if (sum) tf.dispose([sum, part]);
        sum = next;
      }
      chunks.push(sum!);
    }
    const all = chunks.length === 1 ? chunks[0]! : tf.concat(chunks, 0);
    return tf.transpose(tf.reshape(all, [fh, fw, co, ci]), [0, 1, 3, 2]);
  });
}

/** dx[n, y·sh + a - top, x·sw + b - left, ci] += dy[n, y, x, co] · W[a, b, ci, co]. */
function conv2dBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Conv2DBackpropInputAttrs): tf.Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropInput (wasm): only NHWC is supported, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inHeight, inWidth } = info;
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    const [n, ho, wo, co] = dy.shape;
    // Insert stride-1 zeros after every output pixel: [n, ho·sh, wo·sw, co].
    let d: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      const spread = tf.pad(tf.reshape(dy, [n, ho, 1, wo, 1, co]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      d = tf.reshape(spread, [n, ho * sh, wo * sw, co]);
    }
    // A 'valid' correlation with the flipped kernel needs fh-1-top rows before and enough after.
    const padTop = fh - 1 - top;
    const padLeft = fw - 1 - left;
    const padBottom = inHeight + fh - 1 - padTop - d.shape[1];
    const padRight = inWidth + fw - 1 - padLeft - d.shape[2];
    d = tf.pad(d, [[0, 0], [Math.max(0, padTop), Math.max(0, padBottom)], [Math.max(0, padLeft), Math.max(0, padRight)], [0, 0]]);
    if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
      d = tf.slice(d, [0, Math.max(0, -padTop), Math.max(0, -padLeft), 0], [n, inHeight + fh - 1, inWidth + fw - 1, co]);
    }
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(d, flipped, 1, 'valid');
  });
}

const conv2dBackpropInputKernel: KernelFunc = ({ inputs, attrs }) => {
  const dy = asTensor(inputs.dy!);
  const filter = asTensor(inputs.filter!);
  try {
    return conv2dBackpropInput(dy.t as tf.Tensor4D, filter.t as tf.Tensor4D, attrs as unknown as Conv2DBackpropInputAttrs);
  } finally {
    dy.release();
    filter.release();
  }
};

const conv2dBackpropFilterKernel: KernelFunc = ({ inputs, attrs }) => {
  const x = asTensor(inputs.x!);
  const dy = asTensor(inputs.dy!);
  try {
    return conv2dBackpropFilter(x.t as tf.Tensor4D, dy.t as tf.Tensor4D, attrs as unknown as Conv2DBackpropFilterAttrs);
  } finally {
    x.release();
    dy.release();
  }
};

/**
 * Gradient of a 2×2 stride-2 max pool (VGG's): dy goes to the position that held the
 * maximum. The backend's MaxPoolGrad is a scalar loop; this is two nearest-neighbour
 * upsamplings and a select. (Exact ties within a window would each get the gradient; the
 * pooled values are ReLU outputs, where the only ties are zeros, whose gradient the ReLU
 * discards anyway.) Other pool shapes go to the backend's kernel.
 */
function maxPoolGrad(original: KernelFunc): KernelFunc {
  return (args) => {
    const { filterSize, strides, pad } = args.attrs as unknown as MaxPoolGradAttrs;
    const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    const input = args.inputs.input!;
    const [, h, w] = input.shape;
    if (fh !== 2 || fw !== 2 || sh !== 2 || sw !== 2 || pad !== 'valid' || h! % 2 !== 0 || w! % 2 !== 0) return original(args);
    const x = asTensor(input);
    const y = asTensor(args.inputs.output!);
    const dy = asTensor(args.inputs.dy!);
    try {
      return tf.tidy(() => {
        const size: [number, number] = [h!, w!];
        const maxima = tf.image.resizeNearestNeighbor(y.t as tf.Tensor4D, size);
        const spread = tf.image.resizeNearestNeighbor(dy.t as tf.Tensor4D, size);
        return tf.where(tf.equal(x.t, maxima), spread, tf.zerosLike(spread));
      });
    } finally {
      x.release();
      y.release();
      dy.release();
    }
  };
}

/** matMul through the backend's fast path: batch 1, no transpose flags. */
function fastBatchMatMul(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const a = inputs.a!;
    const b = inputs.b!;
    const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return original({ inputs, backend, attrs });
    const aw = asTensor(a);
    const bw = asTensor(b);
    const at = aw.t;
    const bt = bw.t;
    try {
      return tf.tidy(() => {
        const a3 = tf.reshape(at, [batchA, a.shape.at(-2)!, a.shape.at(-1)!]) as tf.Tensor3D;
        const b3 = tf.reshape(bt, [batchB, b.shape.at(-2)!, b.shape.at(-1)!]) as tf.Tensor3D;
        const a2 = transposeA ? tf.transpose(a3, [0, 2, 1]) : a3;
        const b2 = transposeB ? tf.transpose(b3, [0, 2, 1]) : b3;
        const batch = Math.max(batchA, batchB);
        const products: tf.Tensor[] = [];
        for (let i = 0; i < batch; i++) {
          const ai = tf.squeeze(tf.slice(a2, [batchA === 1 ? 0 : i, 0, 0], [1, -1, -1]), [0]);
          const bi = tf.squeeze(tf.slice(b2, [batchB === 1 ? 0 : i, 0, 0], [1, -1, -1]), [0]);
          products.push(tf.engine().runKernel('BatchMatMul', { a: ai, b: bi }, { transposeA: false, transposeB: false }) as tf.Tensor);
        }
        const outer = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
        const out = products.length === 1 ? products[0]! : tf.stack(products);
        return tf.reshape(out, [...outer, ...out.shape.slice(-2)]);
      });
    } finally {
      aw.release();
      bw.release();
    }
  };
}

let registered = false;

/** Registers the kernels on the wasm backend (once per thread; call after tf.setBackend('wasm')). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const configs: KernelConfig[] = [];
  if (tf.getKernel('Conv2DBackpropInput', 'wasm')) tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  configs.push({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2dBackpropInputKernel });
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    configs.push({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilterKernel });
  }
  const pool = tf.getKernel('MaxPoolGrad', 'wasm');
  if (pool) {
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    configs.push({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad(pool.kernelFunc) });
  }
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (matMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    configs.push({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: fastBatchMatMul(matMul.kernelFunc) });
  }
  for (const c of configs) tf.registerKernel(c);
}

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

/** dW[kh,kw,ci,co] = Σ_{n,i,j} xPadded[n, i·sh + kh, j·sw + kw, ci] · dy[n, i, j, co]. */
export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Conv2DBackpropFilterAttrs): tf.Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (wasm): only NHWC is supported, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co } = info;
  const { batchSize: n, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    // Pad so every offset's window lies inside, and to whole multiples of the stride.
    const needH = Math.ceil(((ho - 1) * sh + fh) / sh) * sh;
    const needW = Math.ceil(((wo - 1) * sw + fw) / sw) * sw;
    const bottom = needH - top - x.shape[1];
    const right = needW - left - x.shape[2];
    let padded: tf.Tensor4D = tf.pad(x, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]);
    if (bottom < 0 || right < 0) padded = tf.slice(padded, [0, 0, 0, 0], [n, needH, needW, ci]);
    // Split rows and columns by stride phase, channels first: [sh·sw·ci, n, needH/sh, needW/sw].
    // Then every kernel offset's window is one plain slice, a [ci, n·ho·wo] block of im2col.
    const hs = needH / sh;
    const ws = needW / sw;
    const phases = tf.reshape(
      tf.transpose(tf.reshape(padded, [n, hs, sh, ws, sw, ci]), [2, 4, 5, 0, 1, 3]),
      [sh * sw * ci, n, hs, ws],
    );
    const dy2d = tf.reshape(dy, [n * ho * wo, co]);
    const k = n * ho * wo;
    const offsets: Array<[number, number]> = [];
    for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) offsets.push([a, b]);
    const perChunk = Math.max(1, Math.floor(MAX_CHUNK_FLOATS / (ci * k)));
    const parts: tf.Tensor2D[] = [];
    for (let start = 0; start < offsets.length; start += perChunk) {
      const rows = offsets.slice(start, start + perChunk).map(([a, b]) => {
        const phase = (a % sh) * sw + (b % sw);
        const window = tf.slice(phases, [phase * ci, 0, Math.floor(a / sh), Math.floor(b / sw)], [ci, n, ho, wo]);
        return tf.reshape(window, [ci, k]);
      });
      const cols = rows.length === 1 ? rows[0]! : tf.concat(rows, 0);
      parts.push(tf.matMul(cols, dy2d));
      for (const r of rows) r.dispose();
      cols.dispose();
    }
    const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    return tf.reshape(all, [fh, fw, ci, co]);
  });
}

/** dx[n, y·sh + a - top, x·sw + b - left, ci] += dy[n, y, x, co] · W[a, b, ci, co]. */
export function conv2dBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Conv2DBackpropInputAttrs): tf.Tensor4D {
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
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (matMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    configs.push({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: fastBatchMatMul(matMul.kernelFunc) });
  }
  for (const c of configs) tf.registerKernel(c);
}

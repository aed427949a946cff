/**
 * TF.js forward pass of MicroAST (microAst.ts), the independent reference the ONNX export
 * is checked against: NHWC, TF.js's own mirrorPad, conv2d, resizeBilinear and moments;
 * grouped convs as dense convs with block-diagonal kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAIN_EPSILON, DECODER, ENCODER, MODULATOR, weightName, type MicroAstPart, type MicroAstWeights, type MicroConv, type MicroStep } from '../../src/microAst.ts';

/** OIHW [out, in/groups, k, k] grouped kernel → dense HWIO [k, k, in, out]. */
function denseKernel(w: Float32Array, c: MicroConv): tf.Tensor4D {
  const k = c.kernel;
  const inPer = c.inChannels / c.groups;
  const outPer = c.outChannels / c.groups;
  const dense = new Float32Array(k * k * c.inChannels * c.outChannels);
  for (let o = 0; o < c.outChannels; o++) {
    const g = Math.floor(o / outPer);
    for (let i = 0; i < inPer; i++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) {
          dense[((y * k + x) * c.inChannels + g * inPer + i) * c.outChannels + o] = w[((o * inPer + i) * k + y) * k + x]!;
        }
      }
    }
  }
  return tf.tensor4d(dense, [k, k, c.inChannels, c.outChannels]);
}

class Reference {
  constructor(private readonly w: MicroAstWeights) {}

  conv(x: tf.Tensor4D, part: MicroAstPart, c: MicroConv, relu = c.relu): tf.Tensor4D {
    const p = Math.floor(c.kernel / 2);
    const padded = p > 0 ? tf.mirrorPad(x, [[0, 0], [p, p], [p, p], [0, 0]], 'reflect') : x;
    const y = tf.add(tf.conv2d(padded, denseKernel(this.w.get(weightName(part, c, 'weight'))!, c), c.stride, 'valid'), tf.tensor1d(this.w.get(weightName(part, c, 'bias'))!)) as tf.Tensor4D;
    return relu ? tf.relu(y) : y;
  }

  steps(x: tf.Tensor4D, part: MicroAstPart, steps: readonly MicroStep[]): tf.Tensor4D {
    for (const s of steps) {
      if (s.type === 'conv') x = this.conv(x, part, s.conv);
      else if (s.type === 'residual') x = tf.add(x, this.conv(this.conv(x, part, s.first), part, s.second));
      else x = tf.image.resizeBilinear(x, [x.shape[1] * 2, x.shape[2] * 2], false, true);
    }
    return x;
  }

  modulatedResidual(x: tf.Tensor4D, s: Extract<MicroStep, { type: 'residual' }>, w: tf.Tensor, b: tf.Tensor): tf.Tensor4D {
    const x3 = tf.relu(tf.add(tf.mul(w, this.conv(x, 'decoder', s.first, false)), tf.mul(b, x))) as tf.Tensor4D;
    return tf.add(x, tf.add(tf.mul(w, this.conv(x3, 'decoder', s.second)), tf.mul(b, x3))) as tf.Tensor4D;
  }
}

function meanStd(x: tf.Tensor4D): { mean: tf.Tensor; std: tf.Tensor } {
  const n = x.shape[1] * x.shape[2];
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return { mean, std: tf.sqrt(tf.add(tf.mul(variance, n / (n - 1)), ADAIN_EPSILON)) };
}

/** content, style: [1, H, W, 3] RGB 0..255 → stylised [1, H, W, 3] 0..255. Call inside tf.tidy. */
export function microAstForward(content: tf.Tensor4D, style: tf.Tensor4D, weights: MicroAstWeights, alpha: number): tf.Tensor4D {
  const r = new Reference(weights);
  const encode = (img: tf.Tensor4D, part: 'content_encoder' | 'style_encoder') => {
    const x1 = r.steps(tf.div(img, 255) as tf.Tensor4D, part, ENCODER.enc1);
    return { x1, x2: r.steps(x1, part, ENCODER.enc2) };
  };
  const s = encode(style, 'style_encoder');
  const gap = (x: tf.Tensor4D, c: MicroConv) => tf.mean(r.conv(x, 'modulator', c), [1, 2], true) as tf.Tensor4D;
  const [w1, b1, w2, b2] = [gap(s.x1, MODULATOR.weight1), gap(s.x1, MODULATOR.bias1), gap(s.x2, MODULATOR.weight2), gap(s.x2, MODULATOR.bias2)];
  const adainBlend = (x: tf.Tensor4D, target: tf.Tensor4D) => {
    const c = meanStd(x);
    const t = meanStd(target);
    const adain = tf.add(tf.mul(tf.div(tf.sub(x, c.mean), c.std), t.std), t.mean);
    return tf.add(tf.mul(adain, alpha), tf.mul(x, 1 - alpha)) as tf.Tensor4D;
  };
  const c = encode(content, 'content_encoder');
  const x2 = r.modulatedResidual(adainBlend(c.x2, s.x2), DECODER.dec1, w2!, b2!);
  const x4 = r.modulatedResidual(adainBlend(x2, s.x1), DECODER.dec2, w1!, b1!);
  return tf.mul(tf.clipByValue(r.steps(x4, 'decoder', DECODER.dec3), 0, 1), 255) as tf.Tensor4D;
}

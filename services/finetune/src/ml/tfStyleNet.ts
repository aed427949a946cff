/**
 * TF.js forward pass of the style network (@nst/network's styleNet.ts). Training
 * differentiates through it, and tests use it as the independent reference for the ONNX export.
 */
import * as tf from '@tensorflow/tfjs';
import {
  INSTANCE_NORM_EPSILON,
  OUTPUT_OFFSET,
  OUTPUT_SCALE,
  STYLE_NET,
  variableShapes,
  type Block,
  type ConvLayer,
  type StyleNetWeights,
} from '@nst/network';

export type TensorWeights = Map<string, tf.Tensor>;

function convLayer(x: tf.Tensor4D, l: ConvLayer, w: TensorWeights): tf.Tensor4D {
  const kernel = w.get(l.weight) as tf.Tensor4D;
  let y: tf.Tensor4D;
  if (l.type === 'conv') {
    y = tf.conv2d(x, kernel, l.stride, 'same');
  } else {
    const [b, h, wd] = x.shape;
    y = tf.conv2dTranspose(x, kernel, [b, h * l.stride, wd * l.stride, l.outChannels], l.stride, 'same');
  }
  const { mean, variance } = tf.moments(y, [1, 2], true);
  const normalised = tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, INSTANCE_NORM_EPSILON)));
  y = tf.add(tf.mul(normalised, w.get(l.scale)!), w.get(l.shift)!) as tf.Tensor4D;
  return l.relu ? tf.relu(y) : y;
}

function block(x: tf.Tensor4D, b: Block, w: TensorWeights): tf.Tensor4D {
  if (b.type === 'layer') return convLayer(x, b.layer, w);
  return tf.add(x, convLayer(convLayer(x, b.first, w), b.second, w));
}

/** x: [batch, H, W, 3] RGB 0..255 → stylised [batch, H, W, 3] 0..255. Call inside tf.tidy. */
export function styleNetForward(x: tf.Tensor4D, weights: TensorWeights, net: readonly Block[] = STYLE_NET): tf.Tensor4D {
  let y = x;
  for (const b of net) y = block(y, b, weights);
  return tf.clipByValue(tf.add(tf.mul(tf.tanh(y), OUTPUT_SCALE), OUTPUT_OFFSET), 0, 255) as tf.Tensor4D;
}

/** Wraps checkpoint-layout arrays as tensors (variables when trainable). */
export function weightsToTensors(weights: StyleNetWeights, trainable = false): TensorWeights {
  const out: TensorWeights = new Map();
  for (const [name, shape] of variableShapes()) {
    const t = tf.tensor(weights.get(name)!, shape);
    out.set(name, trainable ? tf.variable(t, true, name) : t);
    if (trainable) t.dispose();
  }
  return out;
}

/** Reads tensors back into checkpoint-layout arrays. */
export async function tensorsToWeights(tensors: TensorWeights): Promise<StyleNetWeights> {
  const out: StyleNetWeights = new Map();
  for (const [name, t] of tensors) out.set(name, new Float32Array(await t.data()));
  return out;
}


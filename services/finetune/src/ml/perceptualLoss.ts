/**
 * Perceptual loss (Johnson et al. 2016) on VGG19 blocks 1–3: style as Gram matrices, content
 * as feature distance, plus total variation. Normalisations follow Engstrom's
 * fast-style-transfer so its usual weights (content 7.5, style 100, tv 200) keep their meaning.
 */
import * as tf from '@tensorflow/tfjs';
import type { Vgg19, VggLayer } from './vgg19.ts';

/** relu1_2 and relu2_2 as style layers cost a Gram matrix each at high resolution for little gain. */
export const STYLE_LAYERS: readonly VggLayer[] = ['relu1_1', 'relu2_1', 'relu3_1'];
export const CONTENT_LAYER: VggLayer = 'relu2_2';
const ALL_LAYERS: readonly VggLayer[] = [...new Set([...STYLE_LAYERS, CONTENT_LAYER])];

export interface LossWeights {
  style: number;
  content: number;
  tv: number;
}


/** [N,H,W,C] → [N,C,C] / (H·W·C). */
export function gram(f: tf.Tensor4D): tf.Tensor3D {
  const [n, h, w, c] = f.shape;
  const flat = tf.reshape(f, [n, h * w, c]);
  return tf.div(tf.matMul(flat, flat, true, false), h * w * c) as tf.Tensor3D;
}

/** The style painting's Gram matrices, kept for the whole run. */
export function styleTargets(vgg: Vgg19, style: tf.Tensor4D): Map<VggLayer, tf.Tensor3D> {
  const out = new Map<VggLayer, tf.Tensor3D>();
  tf.tidy(() => {
    const feats = vgg.features(style, STYLE_LAYERS);
    for (const l of STYLE_LAYERS) out.set(l, tf.keep(gram(feats.get(l)!)));
  });
  return out;
}

/** Content features of the input photos (no gradient needed through them). */
export function contentTarget(vgg: Vgg19, photos: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => vgg.features(photos, [CONTENT_LAYER]).get(CONTENT_LAYER)!);
}

export function totalVariation(x: tf.Tensor4D): tf.Scalar {
  const [, h, w] = x.shape;
  const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1]));
  const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1]));
  return tf.add(tf.mean(tf.square(dy)), tf.mean(tf.square(dx))) as tf.Scalar;
}

/** Weighted loss terms of stylised images against their content targets and the style. */
export function perceptualLoss(
  vgg: Vgg19,
  stylised: tf.Tensor4D,
  content: tf.Tensor4D,
  styleGrams: Map<VggLayer, tf.Tensor3D>,
  weights: LossWeights,
): { total: tf.Scalar; style: tf.Scalar; content: tf.Scalar; tv: tf.Scalar } {
  const feats = vgg.features(stylised, ALL_LAYERS);
  let style = tf.scalar(0);
  for (const l of STYLE_LAYERS) {
    // Mean over the batch and the C×C entries; the target broadcasts over the batch.
    style = tf.add(style, tf.mean(tf.square(tf.sub(gram(feats.get(l)!), styleGrams.get(l)!))));
  }
  const contentLoss = tf.mean(tf.square(tf.sub(feats.get(CONTENT_LAYER)!, content))) as tf.Scalar;
  const tv = totalVariation(stylised);
  const ws = tf.mul(style, weights.style) as tf.Scalar;
  const wc = tf.mul(contentLoss, weights.content) as tf.Scalar;
  const wt = tf.mul(tv, weights.tv) as tf.Scalar;
  return { total: tf.addN([ws, wc, wt]) as tf.Scalar, style: ws, content: wc, tv: wt };
}

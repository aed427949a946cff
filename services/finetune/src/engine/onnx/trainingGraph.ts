/**
 * The training graph: the style network (styleNet.ts) followed by the perceptual loss on
 * VGG19 blocks 1–3 (perceptualLoss.ts, same layers and normalisations), with the gradient
 * of the total loss with respect to every style-network weight.
 *
 * Inputs: every weight under its checkpoint name and layout; `photos` [N, H, W, 3] RGB
 * 0..255; `gram_<layer>` [1, C, C], the style's Gram targets. The content target (VGG
 * features of the photos) is computed inside the graph. Outputs: `loss_style`,
 * `loss_content`, `loss_tv`, `loss_total` (weighted, means over the batch) and, unless
 * built for evaluation only, `grad_<weight>` for each weight.
 */
import { INSTANCE_NORM_EPSILON, OUTPUT_OFFSET, OUTPUT_SCALE, STYLE_NET, variableShapes, type Block, type ConvLayer } from '@nst/network';
import { CONTENT_LAYER, STYLE_LAYERS, type LossWeights } from '../../ml/perceptualLoss.ts';
import { VGG19_LAYERS, type VggLayer, type VggWeights } from '../../ml/vgg19.ts';
import { TrainingGraph, type Value } from './graph.ts';

export const PHOTOS = 'photos';
export const LOSS_OUTPUTS = ['loss_style', 'loss_content', 'loss_tv', 'loss_total'] as const;
export const gramInput = (layer: VggLayer) => `gram_${layer}`;
export const gradOutput = (weight: string) => `grad_${weight}`;

/** Keras "caffe" means in RGB order (the first kernel's input channels are reversed to RGB). */
const RGB_MEAN = [123.68, 116.779, 103.939];
const NHWC_TO_NCHW = [0, 3, 1, 2];

export interface TrainingGraphOptions {
  batch: number;
  height: number;
  width: number;
  loss: LossWeights;
  vgg: VggWeights;
  /** Loss terms only, no backward pass (held-out evaluation). */
  evaluateOnly?: boolean;
}

/** VGG19 up to the deepest requested ReLU; returns the requested features. */
function vggFeatures(g: TrainingGraph, x: Value, vgg: VggWeights, kernels: Map<string, Value>, layers: readonly VggLayer[], prefix: string): Map<VggLayer, Value> {
  const wanted = new Set(layers);
  const out = new Map<VggLayer, Value>();
  let y = g.subConstant(x, g.constant(RGB_MEAN, [1, 3, 1, 1]));
  for (const l of VGG19_LAYERS) {
    if (out.size === wanted.size) break;
    g.scope = `${prefix}${l.conv}/`;
    y = g.relu(g.conv(y, kernels.get(l.conv)!, 1, g.constant(vgg[l.conv]!.bias, [vgg[l.conv]!.bias.length])));
    if (wanted.has(l.relu)) out.set(l.relu, y);
    if (l.poolAfter) y = g.maxPool2(y);
  }
  g.scope = '';
  return out;
}

/** The VGG layers the loss reads, up to the deepest of them. */
const LOSS_VGG_LAYERS = VGG19_LAYERS.slice(0, Math.max(...[...STYLE_LAYERS, CONTENT_LAYER].map((r) => VGG19_LAYERS.findIndex((l) => l.relu === r))) + 1);

function vggKernels(g: TrainingGraph, vgg: VggWeights): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const l of LOSS_VGG_LAYERS) {
    const w = vgg[l.conv]!;
    let data = w.kernel;
    if (l.conv === 'block1_conv1') {
      // The weights expect BGR: reverse the kernel's input channels so RGB goes in directly.
      const [kh, kw, ci, co] = w.kernelShape as [number, number, number, number];
      data = new Float32Array(data.length);
      for (let p = 0; p < kh * kw; p++) {
        for (let i = 0; i < ci; i++) data.set(w.kernel.subarray((p * ci + i) * co, (p * ci + i + 1) * co), (p * ci + (ci - 1 - i)) * co);
      }
    }
    out.set(l.conv, g.constantValue(data, w.kernelShape));
  }
  return out;
}

function convLayer(g: TrainingGraph, x: Value, l: ConvLayer, weights: Map<string, Value>): Value {
  const kernel = weights.get(l.weight)!;
  g.scope = `${l.name}/`;
  let y = l.type === 'conv' ? g.conv(x, kernel, l.stride) : g.deconv(x, kernel, l.stride);
  y = g.instanceNorm(y, weights.get(l.scale)!, weights.get(l.shift)!, INSTANCE_NORM_EPSILON);
  y = l.relu ? g.relu(y) : y;
  g.scope = '';
  return y;
}

function block(g: TrainingGraph, x: Value, b: Block, weights: Map<string, Value>): Value {
  if (b.type === 'layer') return convLayer(g, x, b.layer, weights);
  return g.add(x, convLayer(g, convLayer(g, x, b.first, weights), b.second, weights));
}

/** The style network on NCHW 0..255 input → NCHW 0..255 output. */
function styleNetGraph(g: TrainingGraph, x: Value, weights: Map<string, Value>, net: readonly Block[] = STYLE_NET): Value {
  let y = x;
  for (const b of net) y = block(g, y, b, weights);
  return g.outputHead(y, OUTPUT_SCALE, OUTPUT_OFFSET, 0, 255);
}

export function buildTrainingGraph(opts: TrainingGraphOptions): Uint8Array {
  const { batch: n, height: h, width: w } = opts;
  const g = new TrainingGraph();
  const weights = new Map<string, Value>();
  for (const [name, shape] of variableShapes()) weights.set(name, g.input(name, shape, !opts.evaluateOnly));
  const photos = g.transpose(g.input(PHOTOS, [n, h, w, 3], false), NHWC_TO_NCHW);
  const kernels = vggKernels(g, opts.vgg);

  const content = vggFeatures(g, photos, opts.vgg, kernels, [CONTENT_LAYER], 'content/').get(CONTENT_LAYER)!;
  const stylised = styleNetGraph(g, photos, weights);
  const feats = vggFeatures(g, stylised, opts.vgg, kernels, [...new Set([...STYLE_LAYERS, CONTENT_LAYER])], 'loss/');

  const styleTerms = STYLE_LAYERS.map((l) => {
    const c = feats.get(l)!.shape[1]!;
    const target = g.input(gramInput(l), [1, c, c], false);
    // Mean over the batch and the C×C entries; the target broadcasts over the batch.
    return g.meanSquaredError(g.gram(feats.get(l)!), target.name);
  });
  const style = g.scaleBy(g.sum(styleTerms), opts.loss.style);
  const contentLoss = g.scaleBy(g.meanSquaredError(feats.get(CONTENT_LAYER)!, content.name), opts.loss.content);
  const tv = g.scaleBy(g.totalVariation(stylised), opts.loss.tv);
  const total = g.sum([style, contentLoss, tv]);
  [style, contentLoss, tv, total].forEach((v, i) => g.output(v, LOSS_OUTPUTS[i]!, []));

  if (!opts.evaluateOnly) {
    const grads = g.gradients(total, [...weights.values()]);
    for (const [name, shape] of variableShapes()) g.output(grads.get(name)!, gradOutput(name), shape);
  }
  return g.encode(opts.evaluateOnly ? 'style_net_loss' : 'style_net_training');
}

export const STYLE_IMAGE = 'style';

/** The style painting's Gram targets: input `style` [1, H, W, 3] RGB 0..255, outputs `gram_<layer>`. */
export function buildStyleGramGraph(height: number, width: number, vgg: VggWeights): Uint8Array {
  const g = new TrainingGraph();
  const x = g.transpose(g.input(STYLE_IMAGE, [1, height, width, 3], false), NHWC_TO_NCHW);
  const feats = vggFeatures(g, x, vgg, vggKernels(g, vgg), STYLE_LAYERS, 'style/');
  for (const l of STYLE_LAYERS) {
    const gram = g.gram(feats.get(l)!);
    g.output(gram, gramInput(l), gram.shape);
  }
  return g.encode('style_grams');
}

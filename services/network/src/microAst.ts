/**
 * MicroAST (Wang et al., AAAI 2023), the arbitrary-style network, defined once: a content
 * encoder and a style encoder of the same shape, a modulator that turns the style features
 * into per-channel filter weights and biases, and a decoder that AdaINs the content features
 * to the style's and filter-modulates two residual blocks. Weight import (.pth.tar), the ONNX
 * export and the TF.js reference pass all walk these tables.
 *
 * Weights are PyTorch's: conv kernels OIHW [out, in/groups, kh, kw] plus a bias, named
 * `<part>.<state_dict key>`, e.g. `content_encoder.enc1.0.conv_layer.weight`.
 * Every conv is reflection-padded by kernel//2. Images are RGB 0..1 inside the network.
 */

export interface MicroConv {
  /** state_dict prefix of the conv, e.g. `enc1.0.conv_layer`. */
  key: string;
  kernel: number;
  stride: 1 | 2;
  inChannels: number;
  outChannels: number;
  groups: number;
  relu: boolean;
}

export type MicroStep =
  | { type: 'conv'; conv: MicroConv }
  | { type: 'residual'; first: MicroConv; second: MicroConv }
  | { type: 'upsample' };

export const MICROAST_PARTS = ['content_encoder', 'style_encoder', 'modulator', 'decoder'] as const;
export type MicroAstPart = (typeof MICROAST_PARTS)[number];

/** Files of the pretrained weights in the data sources, by part. */
export const MICROAST_PREFIX = 'models/microast/';
export const microAstFile = (part: MicroAstPart) => `${MICROAST_PREFIX}${part}_iter_160000.pth.tar`;

/** AdaIN's epsilon, added to the (unbiased) variance. */
export const ADAIN_EPSILON = 1e-5;
/** Channels of the features the style is described by. */
const FEATURE_CHANNELS = 64;

const conv = (key: string, kernel: number, stride: 1 | 2, inChannels: number, outChannels: number, groups: number, relu: boolean): MicroConv => ({
  key,
  kernel,
  stride,
  inChannels,
  outChannels,
  groups,
  relu,
});
const residual = (key: string, channels = FEATURE_CHANNELS): MicroStep => ({
  type: 'residual',
  first: conv(`${key}.conv1.conv_layer`, 3, 1, channels, channels, 1, true),
  second: conv(`${key}.conv2.conv_layer`, 3, 1, channels, channels, 1, false),
});
const step = (c: MicroConv): MicroStep => ({ type: 'conv', conv: c });

/** Encoder (content and style alike): x1 after enc1, x2 after enc2. */
export const ENCODER = {
  enc1: [
    step(conv('enc1.0.conv_layer', 9, 1, 3, 16, 1, true)),
    step(conv('enc1.2.conv_layer', 3, 2, 16, 32, 16, true)),
    step(conv('enc1.4.conv_layer', 1, 1, 32, 32, 1, true)),
    step(conv('enc1.6.conv_layer', 3, 2, 32, 64, 32, true)),
    step(conv('enc1.8.conv_layer', 1, 1, 64, 64, 1, true)),
    residual('enc1.10'),
  ],
  enc2: [residual('enc2.0')],
} as const satisfies Record<string, readonly MicroStep[]>;

/**
 * Modulator: for each of the style's two feature maps a filter weight and a filter bias,
 * each a 3×3 depthwise conv followed by a global average pool.
 */
export const MODULATOR = {
  weight1: conv('weight1.0.conv_layer', 3, 1, 64, 64, 64, false),
  bias1: conv('bias1.0.conv_layer', 3, 1, 64, 64, 64, false),
  weight2: conv('weight2.0.conv_layer', 3, 1, 64, 64, 64, false),
  bias2: conv('bias2.0.conv_layer', 3, 1, 64, 64, 64, false),
} as const;

/**
 * Decoder: dec1 and dec2 are filter-modulated residual blocks (after AdaIN with the style's
 * x2 and x1 statistics respectively), dec3 upsamples back to the image.
 */
export const DECODER = {
  dec1: residual('dec1') as Extract<MicroStep, { type: 'residual' }>,
  dec2: residual('dec2') as Extract<MicroStep, { type: 'residual' }>,
  dec3: [
    { type: 'upsample' },
    step(conv('dec3.1.conv_layer', 3, 1, 64, 32, 32, true)),
    step(conv('dec3.3.conv_layer', 1, 1, 32, 32, 1, true)),
    { type: 'upsample' },
    step(conv('dec3.6.conv_layer', 3, 1, 32, 16, 16, true)),
    step(conv('dec3.8.conv_layer', 1, 1, 16, 16, 1, true)),
    step(conv('dec3.10.conv_layer', 9, 1, 16, 3, 1, false)),
  ],
} as const satisfies { dec1: MicroStep; dec2: MicroStep; dec3: readonly MicroStep[] };

/**
 * What the network needs to know of a style image, computed once per image: the mean and
 * unbiased std of its two encoder feature maps (for AdaIN) and the modulator's outputs.
 * Each is [1, 64, 1, 1]; the names are the ONNX graphs' tensor names.
 */
export const STYLE_CODE = ['style_mean_1', 'style_std_1', 'style_mean_2', 'style_std_2', 'filter_weight_1', 'filter_bias_1', 'filter_weight_2', 'filter_bias_2'] as const;
export type StyleCodeName = (typeof STYLE_CODE)[number];

/** Weights by `<part>.<key>.weight|bias`, float32, PyTorch layout. */
export type MicroAstWeights = Map<string, Float32Array>;

const stepConvs = (steps: readonly MicroStep[]): MicroConv[] =>
  steps.flatMap((s) => (s.type === 'conv' ? [s.conv] : s.type === 'residual' ? [s.first, s.second] : []));

/** Every conv of a part of the network. */
function partConvs(part: MicroAstPart): MicroConv[] {
  if (part === 'content_encoder' || part === 'style_encoder') return stepConvs([...ENCODER.enc1, ...ENCODER.enc2]);
  if (part === 'modulator') return Object.values(MODULATOR);
  return stepConvs([DECODER.dec1, DECODER.dec2, ...DECODER.dec3]);
}

export const weightName = (part: MicroAstPart, c: MicroConv, kind: 'weight' | 'bias') => `${part}.${c.key}.${kind}`;

/** Every parameter with its shape. */
export function microAstShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const part of MICROAST_PARTS) {
    for (const c of partConvs(part)) {
      shapes.set(weightName(part, c, 'weight'), [c.outChannels, c.inChannels / c.groups, c.kernel, c.kernel]);
      shapes.set(weightName(part, c, 'bias'), [c.outChannels]);
    }
  }
  return shapes;
}

export function microAstParameterCount(): number {
  let n = 0;
  for (const shape of microAstShapes().values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Throws unless every parameter is present with the right number of values. */
export function assertCompleteMicroAst(weights: MicroAstWeights): void {
  for (const [name, shape] of microAstShapes()) {
    const w = weights.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`MicroAST weights lack ${name}`);
    if (w.length !== size) throw new Error(`MicroAST weight ${name} has ${w.length} values, expected ${size} (${shape.join('x')})`);
  }
}

/**
 * The interface a model artefact serves through, per model kind, and a check of it that needs
 * no ONNX runtime: the bytes are parsed as an ONNX ModelProto with onnx-proto (plain JavaScript)
 * and its graph must take and give the tensors the inference service feeds and reads. So the
 * release path (in the gateway, which carries no runtime) refuses what is not such a model; the
 * inference service still loads a version in onnxruntime before it switches to it.
 */
import onnxProto from 'onnx-proto';
import type { ModelKind } from './styles.ts';

const { onnx } = onnxProto;

/** The photo, float32 [1, H, W, 3] RGB 0..255, and the result, of the same shape and range. */
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'stylized';
/** MicroAST's style image (same layout as the photo) and its strength, float32 [1], 0..1. */
export const STYLE_INPUT = 'style_image';
export const STRENGTH_INPUT = 'strength';

const MODEL_INTERFACE: Record<ModelKind, { inputs: readonly string[]; outputs: readonly string[] }> = {
  'fast-style': { inputs: [ONNX_INPUT], outputs: [ONNX_OUTPUT] },
  arbitrary: { inputs: [ONNX_INPUT, STYLE_INPUT, STRENGTH_INPUT], outputs: [ONNX_OUTPUT] },
};

const listed = (names: Iterable<string>) => [...names].join(', ') || 'none';

/** Why these bytes are not a model of this kind, or null when they are one. */
export function onnxInterfaceProblem(bytes: Uint8Array, kind: ModelKind): string | null {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    return `it is not an ONNX model (${(err as Error).message})`;
  }
  const graph = model.graph;
  if (!graph?.node?.length || model.opsetImport.length === 0) return 'it is not an ONNX model with a graph and an opset';
  const isFloat = (v: onnxProto.onnx.IValueInfoProto) => v.type?.tensorType?.elemType === onnx.TensorProto.DataType.FLOAT;
  const byName = (values: onnxProto.onnx.IValueInfoProto[]) => new Map(values.map((v) => [v.name ?? '', v]));
  // Older exporters also list initializers as graph inputs; those are weights, not feeds.
  const weights = new Set((graph.initializer ?? []).map((t) => t.name));
  const feeds = byName((graph.input ?? []).filter((v) => !weights.has(v.name)));
  const results = byName(graph.output ?? []);
  const want = MODEL_INTERFACE[kind];
  if (feeds.size !== want.inputs.length || want.inputs.some((name) => !feeds.has(name) || !isFloat(feeds.get(name)!))) {
    return `a ${kind} model takes float inputs ${listed(want.inputs)}; this graph takes ${listed(feeds.keys())}`;
  }
  const missing = want.outputs.filter((name) => !results.has(name) || !isFloat(results.get(name)!));
  if (missing.length > 0) return `a ${kind} model gives float output ${listed(missing)}; this graph gives ${listed(results.keys())}`;
  return null;
}

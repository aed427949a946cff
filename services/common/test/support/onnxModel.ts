/** Small ONNX models for the release check: each output is an Identity of the first input. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export function identityModel(inputs: string[], outputs: string[], opts: { elemType?: number; tag?: string } = {}): Uint8Array {
  const info = (name: string) => ({ name, type: { tensorType: { elemType: opts.elemType ?? onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimParam: 'n' }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'nst-platform-test',
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: opts.tag ? [{ key: 'tag', value: opts.tag }] : [],
    graph: {
      name: 'identity',
      node: outputs.map((o) => ({ opType: 'Identity', input: [inputs[0]!], output: [o], name: o })),
      input: inputs.map(info),
      output: outputs.map(info),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { ModelStore, ONNX_INPUT, ONNX_OUTPUT, STRENGTH_INPUT, STYLE_INPUT, onnxInterfaceProblem, verifyVersion, type ModelCard } from '../src/index.ts';
import { identityModel } from './support/onnxModel.ts';
import { testCard } from './support/testCard.ts';

const fastStyle = identityModel([ONNX_INPUT], [ONNX_OUTPUT]);
const arbitrary = identityModel([ONNX_INPUT, STYLE_INPUT, STRENGTH_INPUT], [ONNX_OUTPUT]);

describe('the ONNX interface check', () => {
  it('takes a model with the inputs and outputs of its kind', () => {
    expect(onnxInterfaceProblem(fastStyle, 'fast-style')).toBeNull();
    expect(onnxInterfaceProblem(arbitrary, 'arbitrary')).toBeNull();
  });

  it('names what is wrong with anything else', () => {
    expect(onnxInterfaceProblem(arbitrary, 'fast-style')).toMatch(/takes float inputs image; this graph takes image, style_image, strength/);
    expect(onnxInterfaceProblem(fastStyle, 'arbitrary')).toMatch(/takes float inputs image, style_image, strength/);
    expect(onnxInterfaceProblem(identityModel([ONNX_INPUT], ['output']), 'fast-style')).toMatch(/gives float output stylized; this graph gives output/);
    expect(onnxInterfaceProblem(identityModel([ONNX_INPUT], [ONNX_OUTPUT], { elemType: onnxProto.onnx.TensorProto.DataType.UINT8 }), 'fast-style')).toMatch(/float inputs/);
    expect(onnxInterfaceProblem(randomBytes(20_000), 'fast-style')).toMatch(/not an ONNX model/);
    expect(onnxInterfaceProblem(fastStyle.subarray(0, fastStyle.length - 7), 'fast-style')).toMatch(/not an ONNX model/);
    expect(onnxInterfaceProblem(new Uint8Array(0), 'fast-style')).toMatch(/not an ONNX model/);
  });
});

describe('verifyVersion', () => {
  async function storeWith(bytes: Uint8Array, card: Partial<ModelCard> = {}): Promise<ModelStore> {
    const store = new ModelStore(await mkdtemp(path.join(tmpdir(), 'nst-verify-')));
    await store.addVersion('model1', bytes, testCard('model1', bytes, card));
    return store;
  }

  it('passes a version whose artefact matches its card and is a model of the card style’s kind', async () => {
    await expect(verifyVersion(await storeWith(fastStyle), 'model1', 'model1_v1')).resolves.toBeUndefined();
    await expect(verifyVersion(await storeWith(arbitrary, { style: 'arbitrary' }), 'model1', 'model1_v1')).resolves.toBeUndefined();
  });

  it('refuses a corrupt, garbage or mismatched version with the reason', async () => {
    const otherHash = { artefact: { file: 'model1_v1.onnx', sha256: 'ab'.repeat(32), bytes: fastStyle.byteLength } };
    await expect(verifyVersion(await storeWith(fastStyle, otherHash), 'model1', 'model1_v1')).rejects.toThrow(/cannot be served: the artefact's sha256 .* differs/);
    await expect(verifyVersion(await storeWith(randomBytes(50_000)), 'model1', 'model1_v1')).rejects.toThrow(/cannot be served: it is not an ONNX model/);
    await expect(verifyVersion(await storeWith(arbitrary), 'model1', 'model1_v1')).rejects.toThrow(/cannot be served: a fast-style model takes/);
    await expect(verifyVersion(await storeWith(fastStyle), 'model1', 'model1_v2')).rejects.toThrow(/model card cannot be read/);
  });
});

/** What the network exports is what the release path (@nst/common, no ONNX runtime) takes. */
import { describe, expect, it } from 'vitest';
import { onnxInterfaceProblem } from '@nst/common';
import { STYLE_NET, exportMicroAstOnnx, exportOnnx, microAstShapes, variableShapes } from '../src/index.ts';

const zeros = (shapes: Map<string, number[]>) => new Map([...shapes].map(([name, shape]) => [name, new Float32Array(shape.reduce((a, b) => a * b, 1))]));

describe('exported artefacts against the release check', () => {
  it('a fast-style export is a fast-style model and not an arbitrary one', () => {
    const bytes = exportOnnx(zeros(variableShapes(STYLE_NET)));
    expect(onnxInterfaceProblem(bytes, 'fast-style')).toBeNull();
    expect(onnxInterfaceProblem(bytes, 'arbitrary')).not.toBeNull();
  });

  it('the full MicroAST export is an arbitrary model; its per-style pass is neither', () => {
    const weights = zeros(microAstShapes());
    expect(onnxInterfaceProblem(exportMicroAstOnnx(weights, 'full'), 'arbitrary')).toBeNull();
    expect(onnxInterfaceProblem(exportMicroAstOnnx(weights, 'full'), 'fast-style')).not.toBeNull();
    expect(onnxInterfaceProblem(exportMicroAstOnnx(weights, 'style'), 'arbitrary')).not.toBeNull();
  });
});

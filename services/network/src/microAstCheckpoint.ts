/** Reads MicroAST's four pretrained state_dict files (legacy torch.save) into one weight map. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MICROAST_PARTS, assertCompleteMicroAst, microAstFile, microAstShapes, type MicroAstWeights } from './microAst.ts';
import { readTorchLegacy } from './torchLegacy.ts';

/** `root` holds the data sources' paths (models/microast/…); every shape is checked. */
export async function loadMicroAstWeights(root: string): Promise<MicroAstWeights> {
  const shapes = microAstShapes();
  const weights: MicroAstWeights = new Map();
  for (const part of MICROAST_PARTS) {
    const file = path.join(root, microAstFile(part));
    for (const [key, t] of readTorchLegacy(await readFile(file), file)) {
      const name = `${part}.${key}`;
      const want = shapes.get(name);
      if (!want) throw new Error(`${file}: unexpected parameter ${key}`);
      if (want.join(',') !== t.shape.join(',')) throw new Error(`${file}: ${key} has shape [${t.shape}], the network expects [${want}]`);
      weights.set(name, t.data);
    }
  }
  assertCompleteMicroAst(weights);
  return weights;
}

/** Reads Engstrom's fast-style-transfer checkpoints (manifest.json + raw float32 files). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { variableShapes, type StyleNetWeights } from './styleNet.ts';

const manifestSchema = z.record(z.string(), z.object({ filename: z.string(), shape: z.array(z.number().int()) }));

/** Loads a checkpoint folder; every variable's shape is checked against the network. */
export async function loadCheckpoint(dir: string): Promise<StyleNetWeights> {
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = manifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
  const weights: StyleNetWeights = new Map();
  for (const [name, shape] of variableShapes()) {
    const entry = manifest[name];
    if (!entry) throw new Error(`${manifestPath} lacks variable ${name}`);
    if (entry.shape.join(',') !== shape.join(',')) {
      throw new Error(`${manifestPath}: ${name} has shape [${entry.shape}], the network expects [${shape}]`);
    }
    const file = path.join(dir, path.basename(entry.filename));
    const bytes = await readFile(file);
    const size = shape.reduce((a, b) => a * b, 1);
    if (bytes.byteLength !== size * 4) throw new Error(`${file} has ${bytes.byteLength} bytes, expected ${size * 4}`);
    // Copy into an aligned buffer; the file is little-endian float32 like every supported host.
    weights.set(name, new Float32Array(new Uint8Array(bytes).buffer));
  }
  return weights;
}

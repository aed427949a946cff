/**
 * Reads a PyTorch state_dict saved with the legacy (non-zip) torch.save format: pickles of
 * the magic number, the protocol version and the system info, then the dict (tensors refer
 * to storages by persistent id), then the list of storage keys; then each storage as an
 * 8-byte little-endian element count followed by its raw little-endian float32 data.
 * The pickles are parsed with pickleparser; only float32 CPU tensors are accepted.
 */
import { BufferReader, NameRegistry, Parser } from 'pickleparser';

/** Pickle of the magic number 0x1950a86a20f9469cfc6c (too big for the parser's integers). */
const MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');
const PROTOCOL_VERSION = 1001;

export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

interface TensorRef {
  storageKey: string;
  storageType: string;
  offset: number;
  shape: number[];
  stride: number[];
}

class TorchFormatError extends Error {}

export function readTorchLegacy(bytes: Uint8Array, where = 'state_dict'): Map<string, TorchTensor> {
  const fail = (why: string): never => {
    throw new TorchFormatError(`${where}: ${why}`);
  };
  if (!Buffer.from(bytes.subarray(0, MAGIC.length)).equals(MAGIC)) fail('not a legacy torch.save file (magic number missing)');
  const body = bytes.subarray(MAGIC.length);
  const reader = new BufferReader(body);
  const storageTypes = new Map<object, string>();
  const registry = new NameRegistry()
    .register('collections', 'OrderedDict', () => new Map())
    .register('torch._utils', '_rebuild_tensor_v2', (storage: [string, object, string, string, number], offset: number, shape: number[], stride: number[]): TensorRef => ({
      storageKey: String(storage[2]),
      storageType: storageTypes.get(storage[1]) ?? 'unknown',
      offset,
      shape,
      stride,
    }));
  // A storage type arrives as a bare global inside the persistent id: name each one.
  for (const type of ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'LongStorage', 'IntStorage']) {
    const marker = () => type;
    storageTypes.set(marker, type);
    registry.register('torch', type, marker);
  }
  const parser = new Parser({ nameResolver: registry, persistentResolver: { resolve: (pid: unknown) => pid }, unpicklingTypeOfDictionary: 'Map' });
  const protocol = parser.read<number>(reader);
  if (protocol !== PROTOCOL_VERSION) fail(`protocol version ${protocol}, expected ${PROTOCOL_VERSION}`);
  const sysInfo = parser.read<Map<string, unknown>>(reader);
  if (sysInfo.get('little_endian') !== true) fail('saved on a big-endian machine');
  const dict = parser.read<Map<string, TensorRef>>(reader);
  const keys = parser.read<string[]>(reader);
  if (!(dict instanceof Map) || !Array.isArray(keys)) fail('unexpected pickle layout');

  const storages = new Map<string, Float32Array>();
  let pos = reader.position;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (const key of keys) {
    if (pos + 8 > body.byteLength) fail(`storage ${key} is cut short`);
    const count = Number(view.getBigUint64(pos, true));
    pos += 8;
    if (pos + count * 4 > body.byteLength) fail(`storage ${key} is cut short`);
    // Copy into an aligned buffer; the data is little-endian float32 like every supported host.
    storages.set(String(key), new Float32Array(Uint8Array.from(body.subarray(pos, pos + count * 4)).buffer));
    pos += count * 4;
  }
  if (pos !== body.byteLength) fail(`${body.byteLength - pos} bytes left over after the storages`);

  const tensors = new Map<string, TorchTensor>();
  for (const [name, ref] of dict) {
    if (ref.storageType !== 'FloatStorage') fail(`${name} is a ${ref.storageType}, only float32 is supported`);
    const storage = storages.get(ref.storageKey) ?? fail(`${name} refers to a missing storage ${ref.storageKey}`);
    const size = ref.shape.reduce((a, b) => a * b, 1);
    // Contiguous (row-major) strides only.
    let expected = 1;
    for (let i = ref.shape.length - 1; i >= 0; i--) {
      if (ref.shape[i] !== 1 && ref.stride[i] !== expected) fail(`${name} is not contiguous`);
      expected *= ref.shape[i]!;
    }
    if (ref.offset + size > storage.length) fail(`${name} runs past its storage`);
    tensors.set(name, { shape: [...ref.shape], data: storage.slice(ref.offset, ref.offset + size) });
  }
  return tensors;
}

/**
 * Module weights <-> safetensors files with PyTorch's names and layouts, so a state dict written by
 * PyTorch loads here and ours loads in PyTorch (`safetensors.torch.load_file`).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { DfkdError } from '../errors';
import { Tensor, tensor } from '../tensor';
import type { Module } from '../nn';
import { checkWeightValues } from './weight-check';
import { NamedArray, STDType, loadSafetensors, saveSafetensors, checkTensors, ExpectedTensor } from './safetensors';

const TO_ST: Record<string, STDType> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };

/** Copies a tensor's data into a safetensors entry. */
export function toNamedArray(t: Tensor): NamedArray {
  const dtype = TO_ST[t.dtype];
  if (!dtype) throw new DfkdError(`cannot save a tensor of dtype ${t.dtype} to safetensors`);
  return { dtype, shape: t.shape, data: t.toArray() };
}

/** Builds a tensor from a safetensors entry (copied into native memory). */
export function fromNamedArray(a: NamedArray): Tensor {
  const t = tensor(a.data, a.shape);
  if (a.dtype === 'BOOL') {
    const b = t.to('bool');
    t.dispose();
    return b;
  }
  return t;
}

/** Saves named tensors (e.g. `module.stateDict()`) atomically as safetensors. */
export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>): void {
  const out: Record<string, NamedArray> = {};
  for (const [k, t] of tensors) out[k] = toNamedArray(t);
  saveSafetensors(path, out, metadata);
}

/** Loads every tensor of a safetensors file (caller owns and disposes them). */
export function loadTensors(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = loadSafetensors(path);
  const out = new Map<string, Tensor>();
  for (const [k, a] of Object.entries(tensors)) out.set(k, fromNamedArray(a));
  return { tensors: out, metadata };
}

export function saveModule(path: string, module: Module, metadata?: Record<string, string>): void {
  saveTensors(path, module.stateDict(), metadata);
}

/**
 * Loads a safetensors file into `module`, checking every name, shape and dtype first and
 * reporting all mismatches in one error that names the file.
 */
export function loadModule(path: string, module: Module, opts: { strict?: boolean } = {}): Record<string, string> {
  const { tensors, metadata } = loadSafetensors(path);
  const expected: Record<string, ExpectedTensor> = {};
  for (const [k, t] of module.stateDict()) expected[k] = { shape: t.shape, dtype: TO_ST[t.dtype] };
  let problems = checkTensors(tensors, expected);
  if (opts.strict === false) problems = problems.filter((p) => !/unexpected/i.test(p));
  if (problems.length > 0) {
    throw new DfkdError(
      `weights file '${path}' does not match ${module.constructor.name}: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
      'EWEIGHTS',
    );
  }
  checkWeightValues(tensors, path);
  const loaded = new Map<string, Tensor>();
  try {
    for (const k of Object.keys(expected)) loaded.set(k, fromNamedArray(tensors[k]));
    module.loadStateDict(loaded, { strict: false, origin: path });
  } finally {
    for (const t of loaded.values()) t.dispose();
  }
  return metadata;
}

/** SHA-256 of a file, hex (records pin the exact weights they describe). */
export function sha256File(path: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(path)).digest('hex');
}

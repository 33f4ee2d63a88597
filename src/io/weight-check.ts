/**
 * Value checks of model weights at load time (issue 15): a NaN or infinite parameter or buffer, or a
 * negative BatchNorm running variance, makes a model useless (its outputs are NaN), so it is refused
 * with the file and the tensor named instead of giving "accuracy 10%, confidence NaN" later.
 */
import { DfkdError } from '../errors';
import type { NamedArray } from './safetensors';

/** The first problem of one tensor's values, or undefined. */
function valueProblem(name: string, a: NamedArray): string | undefined {
  if (a.dtype !== 'F32' && a.dtype !== 'F64') return undefined;
  const d = a.data as Float32Array | Float64Array;
  const isVar = /(^|\.)running_var$/.test(name);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!Number.isFinite(v)) return `tensor '${name}' holds a non-finite value (${v}) at element ${i} of ${d.length}`;
    if (isVar && v < 0) return `tensor '${name}' (a BatchNorm running variance) holds a negative value (${v}) at element ${i} of ${d.length}`;
  }
  return undefined;
}

/**
 * Throws a DfkdError (code 'EWEIGHTS') naming `file` and the first tensor whose values are unusable:
 * non-finite (NaN, +-Inf) anywhere, or negative in a BatchNorm `running_var`.
 */
export function checkWeightValues(tensors: Record<string, NamedArray>, file: string): void {
  for (const name of Object.keys(tensors).sort()) {
    const p = valueProblem(name, tensors[name]);
    if (p) throw new DfkdError(`weights file '${file}': ${p}; the weights are unusable (diverged training or a corrupted file)`, 'EWEIGHTS');
  }
}

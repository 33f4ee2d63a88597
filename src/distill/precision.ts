/**
 * The `precision` setting: the arithmetic of the no-grad forwards that make the student's batches (the
 * generator's draws and the teacher's logits on them). 'bf16-forwards' runs them under CPU autocast to
 * bfloat16 and hands float32 results on, so the student, the replay buffer and the selection see float32
 * tensors. Training passes (student step, generator step) and evaluation stay float32.
 */
import { Tensor, Device, autocast, F } from '../tensor';
import { Linear } from '../nn';
import type { Classifier } from '../models/registry';
import { DfkdError } from '../errors';
import * as fs from 'fs';

export const PRECISIONS = ['float32', 'bf16-forwards'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** fn's tensor, computed under bfloat16 autocast and returned as float32 when `p` is 'bf16-forwards'; else fn(). */
export function forwardIn(p: Precision | undefined, fn: () => Tensor): Tensor {
  if (p !== 'bf16-forwards') return fn();
  return autocast(fn).to('float32');
}

/**
 * The teacher's logits of x in precision `p`. With 'bf16-forwards' the teacher runs under bfloat16 autocast
 * up to its last Linear layer (`featureLayer`), whose input is then taken to float32 and the layer applied
 * in float32 again: bfloat16 logits would be rounded to 8 significant bits (steps of 0.06 at 10), coarser
 * than the student's L1 fit to them. A teacher whose featureLayer is not a Linear (an ONNX graph's tap)
 * gets its autocast logits as float32.
 */
export function teacherLogitsIn(p: Precision | undefined, teacher: Classifier, x: Tensor): Tensor {
  if (p !== 'bf16-forwards') return teacher.call(x);
  const head = teacher.featureLayer;
  if (!(head instanceof Linear)) return forwardIn(p, () => teacher.call(x));
  let features: Tensor | undefined;
  const hook = head.registerForwardHook((_m, input) => {
    features = input;
  });
  let logits: Tensor;
  try {
    logits = autocast(() => teacher.call(x));
  } finally {
    hook.remove();
  }
  // A forward that never reached its featureLayer (not a zoo classifier) keeps its autocast logits.
  if (!features) return logits.to('float32');
  return F.linear(features.to('float32'), head.weight, head.bias);
}

/** Refuses 'bf16-forwards' where it would do nothing: CPU autocast leaves CUDA tensors alone. */
export function checkPrecision(p: Precision | undefined, device: Device | undefined): void {
  if (p === 'bf16-forwards' && device && device !== 'cpu') {
    throw new DfkdError(`distill config: precision 'bf16-forwards' is CPU autocast and does nothing on device '${device}'; use 'float32' there`, 'ECONFIG');
  }
}

/**
 * Whether this CPU has native bfloat16 arithmetic (the AVX-512 BF16 or AMX-BF16 flag in /proc/cpuinfo).
 * Without it bfloat16 still gives the same kind of results, but oneDNN emulates it and it may be slower
 * than float32. Undefined where the flags cannot be read (not Linux).
 */
export function cpuHasBf16(cpuinfo = '/proc/cpuinfo'): boolean | undefined {
  let text: string;
  try {
    text = fs.readFileSync(cpuinfo, 'utf8');
  } catch {
    return undefined;
  }
  const flags = /^flags\s*:(.*)$/m.exec(text);
  if (!flags) return undefined;
  const set = new Set(flags[1].trim().split(/\s+/));
  return set.has('avx512_bf16') || set.has('amx_bf16');
}

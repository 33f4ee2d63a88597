/** Tensor creation: from JS arrays/typed arrays, constants and seeded random draws. */
import { native, NumericArray } from './native';
import { DType, Device, Tensor, wrap } from './tensor';

function checkShape(shape: number[], op: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape;
}

/**
 * Creates a tensor from a typed array (copied) or a nested/flat JS number array.
 * Float32Array -> float32, Float64Array -> float64, Int32Array -> int32, BigInt64Array -> int64,
 * Uint8Array -> uint8; plain arrays -> float32 unless `dtype` says otherwise.
 */
export function tensor(data: NumericArray | number[] | number[][] | number[][][], shape?: number[], dtype?: DType, device?: Device): Tensor {
  let arr: NumericArray;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    arr = data as NumericArray;
    inferred = [arr.length];
  } else {
    inferred = [];
    let cur: unknown = data;
    while (Array.isArray(cur)) {
      inferred.push(cur.length);
      cur = cur[0];
    }
    const flat = (data as unknown[]).flat(Infinity) as number[];
    if (flat.some((v) => typeof v !== 'number')) throw new TypeError('tensor: data must contain only numbers');
    // int64 goes through Float64Array (exact up to 2^53); an Int32Array would wrap values beyond 2^31.
    arr = dtype === 'float64' || dtype === 'int64' ? Float64Array.from(flat) : dtype === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat);
  }
  const s = checkShape(shape ?? inferred, 'tensor');
  return wrap(native.fromArray(arr, s, dtype, device));
}

export function zeros(shape: number[], dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.zeros(checkShape(shape, 'zeros'), dtype, device));
}
export function ones(shape: number[], dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.ones(checkShape(shape, 'ones'), dtype, device));
}
export function full(shape: number[], value: number, dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.full(checkShape(shape, 'full'), value, dtype, device));
}
/** Uniform [0, 1) draws from the global generator (seed it with manualSeed). */
export function rand(shape: number[], dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.rand(checkShape(shape, 'rand'), dtype, device));
}
/** Standard normal draws from the global generator. */
export function randn(shape: number[], dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.randn(checkShape(shape, 'randn'), dtype, device));
}
/** Integers in [low, high) (int64). */
export function randint(low: number, high: number, shape: number[], device?: Device): Tensor {
  return wrap(native.randint(low, high, checkShape(shape, 'randint'), device));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, device?: Device): Tensor {
  return wrap(native.randperm(n, device));
}
/** Values start, start+step, ... below end. Integer arguments give int64 unless dtype is set. */
export function arange(start: number, end?: number, step = 1, dtype?: DType, device?: Device): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  const dt = dtype ?? (Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step) ? 'int64' : 'float32');
  return wrap(native.arange(start, end, step, dt, device));
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype, t.device as Device);
}
export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, t.dtype, t.device as Device);
}
export function randnLike(t: Tensor): Tensor {
  return randn(t.shape, t.dtype, t.device as Device);
}
/** Concatenates along an existing dimension. */
export function cat(ts: Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new Error('cat: needs at least one tensor');
  return wrap(native.cat(ts.map((t) => t.handle), dim));
}
/** Stacks along a new dimension. */
export function stack(ts: Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new Error('stack: needs at least one tensor');
  return wrap(native.stack(ts.map((t) => t.handle), dim));
}
/** Elementwise `cond ? a : b`. */
export function where(cond: Tensor, a: Tensor, b: Tensor | number): Tensor {
  return wrap(native.where(cond.handle, a.handle, typeof b === 'number' ? [b] : b.handle));
}
/** Uninitialised memory (fill it right after, e.g. with uniform_). */
export function empty(shape: number[], dtype: DType = 'float32', device?: Device): Tensor {
  return wrap(native.empty(checkShape(shape, 'empty'), dtype, device));
}

/** Whole datasets as normalised tensors, and batch iteration over them. */
import { Tensor, Device, tensor, keep, tidy } from '../tensor';
import { normalizeBatch, AugmentOptions } from './batches';
import type { DatasetInfo } from './registry';
import type { RawImages } from './raw';

export interface DatasetTensors {
  /** Normalised images [N, C, H, W] float32. */
  x: Tensor;
  /** Labels [N] int64. */
  y: Tensor;
  n: number;
}

/** Normalises every image of `raw` with the dataset's mean/std into one tensor (kept; dispose when done), on `device` (default CPU). */
export function toTensors(raw: RawImages, info: Pick<DatasetInfo, 'mean' | 'std'>, device?: Device): DatasetTensors {
  const idx = new Int32Array(raw.n);
  for (let i = 0; i < raw.n; i++) idx[i] = i;
  const b = normalizeBatch(raw, idx, info);
  const x = keep(tensor(b.data, b.shape, undefined, device));
  const y = keep(tensor(b.labels, [raw.n], 'int64', device));
  return { x, y, n: raw.n };
}

/** An augmented batch built on the fly (random crop/flip need per-sample randomness), on `device` (default CPU). */
export function augmentedBatch(
  raw: RawImages,
  indices: Int32Array,
  info: Pick<DatasetInfo, 'mean' | 'std'>,
  aug: AugmentOptions,
  rng: () => number,
  device?: Device,
): { x: Tensor; y: Tensor } {
  const b = normalizeBatch(raw, indices, info, aug, rng);
  return { x: tensor(b.data, b.shape, undefined, device), y: tensor(b.labels, [indices.length], 'int64', device) };
}

/** Calls `fn` on consecutive slices of at most `batchSize` samples, each inside its own tidy(). */
export function forEachBatch(d: DatasetTensors, batchSize: number, fn: (x: Tensor, y: Tensor, start: number) => void): void {
  for (let s = 0; s < d.n; s += batchSize) {
    const len = Math.min(batchSize, d.n - s);
    tidy(() => fn(d.x.narrow(0, s, len), d.y.narrow(0, s, len), s));
  }
}

export function disposeTensors(d: DatasetTensors): void {
  d.x.dispose();
  d.y.dispose();
}

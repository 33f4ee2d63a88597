/**
 * Engine-free batch preparation: uint8 NCHW images -> normalised Float32Array batches, with the
 * standard CIFAR-style augmentation (random crop with zero padding, random horizontal flip).
 */
import { DfkdError } from '../errors';
import type { DatasetInfo } from './registry';
import type { RawImages } from './raw';

/** Augmentation options for {@link normalizeBatch}. */
export interface AugmentOptions {
  /** Random crop: pad by this many zero pixels on each side, then crop back to h×w at a random offset. */
  crop?: number;
  /** Random horizontal flip with probability 0.5. */
  flip?: boolean;
}

/** A normalised batch ready to be copied into a tensor. */
export interface FloatBatch {
  data: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
}

/**
 * Build a float batch from the images at `indices`: scale to [0,1], optionally augment, then apply
 * (x - mean[c]) / std[c]. Augmentation follows torchvision's RandomCrop(padding) then
 * RandomHorizontalFlip: padded pixels are 0 before normalisation. Per image, `rng` is drawn for the
 * crop row offset, then the column offset (if crop > 0), then the flip (if flip). `rng` is required
 * when augmentation is requested, so that runs are reproducible.
 */
export function normalizeBatch(
  raw: RawImages,
  indices: Int32Array | number[],
  info: Pick<DatasetInfo, 'mean' | 'std'>,
  augment?: AugmentOptions,
  rng?: () => number,
): FloatBatch {
  const { channels: c, height: h, width: w } = raw;
  const { pad, flip } = checkedBatchArgs(raw, info, augment, rng);
  const n = indices.length;
  const per = c * h * w;
  const data = new Float32Array(n * per);
  const labels = new Int32Array(n);
  const scale = info.std.map((s) => 1 / (255 * s));
  const shift = info.mean.map((m, ch) => (0 - m) / info.std[ch]); // value of a zero pixel (no -0)
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= raw.n) {
      throw new DfkdError(`normalizeBatch: index ${j} at position ${i} is out of range, expected an integer in [0, ${raw.n - 1}]`);
    }
    labels[i] = raw.labels[j];
    let dy = 0;
    let dx = 0;
    if (pad > 0) {
      dy = Math.floor(rng!() * (2 * pad + 1)) - pad;
      dx = Math.floor(rng!() * (2 * pad + 1)) - pad;
    }
    const doFlip = flip && rng!() < 0.5;
    writeView(raw, j * per, data, i * per, { dy, dx, flip: doFlip, scale, shift });
  }
  return { data, labels, shape: [n, c, h, w] };
}

/** The crop padding and flip of `augment`, after checking them, the normalisation against the images and that an rng comes with augmentation. */
function checkedBatchArgs(raw: RawImages, info: Pick<DatasetInfo, 'mean' | 'std'>, augment: AugmentOptions | undefined, rng: (() => number) | undefined): { pad: number; flip: boolean } {
  const c = raw.channels;
  if (info.mean.length !== c || info.std.length !== c) {
    throw new DfkdError(`normalizeBatch: mean/std have ${info.mean.length}/${info.std.length} entries, expected ${c} (one per image channel)`);
  }
  if (info.std.some((s) => !(s > 0))) {
    throw new DfkdError(`normalizeBatch: std must be positive, got [${info.std.join(',')}]`);
  }
  const pad = augment?.crop ?? 0;
  if (!Number.isInteger(pad) || pad < 0) {
    throw new DfkdError(`normalizeBatch: augment.crop must be a non-negative integer padding, got ${pad}`);
  }
  const flip = augment?.flip ?? false;
  if ((pad > 0 || flip) && rng === undefined) {
    throw new DfkdError('normalizeBatch: augmentation (crop/flip) requested but no rng given; pass e.g. mulberry32(seed)');
  }
  return { pad, flip };
}

/**
 * Writes one image (at `src` of raw.images) to `dst` of `data`, normalised per channel (pixel * scale + shift),
 * shifted by (dy, dx) and optionally flipped; pixels shifted in from outside are a zero pixel's value.
 */
function writeView(raw: RawImages, src: number, data: Float32Array, dst: number, v: { dy: number; dx: number; flip: boolean; scale: number[]; shift: number[] }): void {
  const { channels: c, height: h, width: w } = raw;
  const plane = h * w;
  for (let ch = 0; ch < c; ch++) {
    const a = v.scale[ch];
    const b = v.shift[ch];
    const sp = src + ch * plane;
    const dp = dst + ch * plane;
    for (let y = 0; y < h; y++) {
      const sy = y + v.dy;
      const rowOut = dp + y * w;
      if (sy < 0 || sy >= h) {
        data.fill(b, rowOut, rowOut + w);
        continue;
      }
      const rowIn = sp + sy * w;
      for (let x = 0; x < w; x++) {
        const sx = (v.flip ? w - 1 - x : x) + v.dx;
        data[rowOut + x] = sx < 0 || sx >= w ? b : raw.images[rowIn + sx] * a + b;
      }
    }
  }
}

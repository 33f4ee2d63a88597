/**
 * The in-memory representation shared by all dataset readers: uint8 images in NCHW order plus
 * integer labels.
 */
import { DfkdError } from '../errors';

/** A set of uint8 images, NCHW (n × channels × height × width), with one int label per image. */
export interface RawImages {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

/** Select images by index (in the given order; repeats allowed). Throws on out-of-range indices. */
export function subset(raw: RawImages, indices: Int32Array | number[]): RawImages {
  const per = raw.channels * raw.height * raw.width;
  const n = indices.length;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= raw.n) {
      throw new DfkdError(`subset: index ${j} at position ${i} is out of range, expected an integer in [0, ${raw.n - 1}]`);
    }
    images.set(raw.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = raw.labels[j];
  }
  return { images, labels, n, channels: raw.channels, height: raw.height, width: raw.width };
}

/**
 * Zero-pad every image to h × w, centred (extra odd pixel goes to the bottom/right), e.g. 28→32
 * adds 2 pixels on each side. Returns `raw` unchanged if it already has that size; throws if the
 * target is smaller than the images.
 */
export function padTo(raw: RawImages, h: number, w: number): RawImages {
  if (raw.height === h && raw.width === w) return raw;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < raw.height || w < raw.width) {
    throw new DfkdError(`padTo: cannot pad ${raw.height}x${raw.width} images to ${h}x${w}; the target must be at least as large as the images`);
  }
  const top = Math.floor((h - raw.height) / 2);
  const left = Math.floor((w - raw.width) / 2);
  const planes = raw.n * raw.channels;
  const inPlane = raw.height * raw.width;
  const outPlane = h * w;
  const images = new Uint8Array(planes * outPlane);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < raw.height; y++) {
      const src = p * inPlane + y * raw.width;
      images.set(raw.images.subarray(src, src + raw.width), p * outPlane + (y + top) * w + left);
    }
  }
  return { images, labels: raw.labels, n: raw.n, channels: raw.channels, height: h, width: w };
}

/** Throw a DfkdError if the buffer/label sizes of `raw` are inconsistent with its n/c/h/w. */
export function checkRawImages(raw: RawImages, source: string): void {
  const want = raw.n * raw.channels * raw.height * raw.width;
  if (raw.images.length !== want) {
    throw new DfkdError(`${source}: images buffer has ${raw.images.length} bytes, expected ${want} (${raw.n}x${raw.channels}x${raw.height}x${raw.width})`);
  }
  if (raw.labels.length !== raw.n) {
    throw new DfkdError(`${source}: has ${raw.labels.length} labels, expected ${raw.n}`);
  }
}

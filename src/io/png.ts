/**
 * Image grids (like torchvision's `make_grid` + `save_image`) written as PNG
 * with pngjs. Optional per-image marks draw a green (selected) or red
 * (rejected) frame, used to visualise TA-DFKD sample selection.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { DfkdError } from '../errors';
import { writeFileAtomic } from './atomic';

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Images per row (default 8, as torchvision). */
  nrow?: number;
  /** Pixels of padding between and around images, integer >= 0 (default 2). */
  padding?: number;
  /** Value range mapped to [0, 255]; values outside are clamped (default [0, 1]). */
  range?: [number, number];
  /**
   * One entry per image: 1 = selected (green frame), 0 = rejected (red frame).
   * The frame is drawn in the padding ring around each image, floor(padding/2)
   * pixels wide (so neighbouring frames never overlap); with padding < 2 it is
   * drawn over the outermost pixel of the image itself.
   */
  marks?: Uint8Array;
  /** Integer nearest-neighbour upscaling of the whole grid, >= 1 (default 1). */
  scale?: number;
  /** Gray level of the padding, in [0, 1] (0 = black, 1 = white; default 0). */
  padValue?: number;
}

/** RGB of the frame around selected images (mark 1). */
export const SELECTED_RGB: readonly [number, number, number] = [0, 255, 0];
/** RGB of the frame around rejected images (mark 0). */
export const REJECTED_RGB: readonly [number, number, number] = [255, 0, 0];

function fail(msg: string): never {
  throw new DfkdError(`imageGrid: ${msg}`, 'EPNG_INPUT');
}

function isPosInt(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/** The grid's options with their defaults, checked against the images. */
interface GridLayout {
  n: number;
  c: number;
  h: number;
  w: number;
  cols: number;
  /** Grid width and height in pixels before scaling. */
  gw: number;
  gh: number;
  padding: number;
  scale: number;
  lo: number;
  hi: number;
  padValue: number;
  marks: Uint8Array | undefined;
}

function gridLayout(images: Float32Array, shape: [number, number, number, number], opts: ImageGridOptions): GridLayout {
  if (!Array.isArray(shape) || shape.length !== 4) fail(`shape must be [n, c, h, w], got ${JSON.stringify(shape)}`);
  const [n, c, h, w] = shape;
  if (![n, h, w].every(isPosInt)) fail(`n, h and w must be integers >= 1, got shape [${shape.join(', ')}]`);
  if (c !== 1 && c !== 3) fail(`channels must be 1 (gray) or 3 (RGB), got ${c}`);
  if (images.length !== n * c * h * w) {
    fail(`images has ${images.length} values but shape [${shape.join(', ')}] needs ${n * c * h * w}`);
  }
  const nrow = opts.nrow ?? 8;
  const padding = opts.padding ?? 2;
  const scale = opts.scale ?? 1;
  const [lo, hi] = opts.range ?? [0, 1];
  const padValue = opts.padValue ?? 0;
  if (!isPosInt(nrow)) fail(`nrow must be an integer >= 1, got ${nrow}`);
  if (!(Number.isInteger(padding) && padding >= 0)) fail(`padding must be an integer >= 0, got ${padding}`);
  if (!isPosInt(scale)) fail(`scale must be an integer >= 1, got ${scale}`);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) fail(`range must be finite with max > min, got [${lo}, ${hi}]`);
  if (!(padValue >= 0 && padValue <= 1)) fail(`padValue must be in [0, 1], got ${padValue}`);
  const marks = opts.marks;
  if (marks !== undefined && marks.length !== n) fail(`marks has ${marks.length} entries for ${n} images`);
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  return { n, c, h, w, cols, gw: cols * (w + padding) + padding, gh: rows * (h + padding) + padding, padding, scale, lo, hi, padValue, marks };
}

/** Writes image k of `images` into the grid's RGBA buffer with its top-left pixel at (ox, oy). */
function drawImage(rgba: Buffer, g: GridLayout, images: Float32Array, k: number, ox: number, oy: number): void {
  const { c, h, w, gw, lo } = g;
  const span = g.hi - lo;
  const toByte = (v: number): number => {
    if (Number.isNaN(v)) return 0;
    const t = (v - lo) / span;
    return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
  };
  const plane = h * w;
  const base = k * c * plane;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = ((oy + y) * gw + ox + x) * 4;
      const q = base + y * w + x;
      if (c === 1) {
        const v = toByte(images[q]);
        rgba[p] = v;
        rgba[p + 1] = v;
        rgba[p + 2] = v;
      } else {
        rgba[p] = toByte(images[q]);
        rgba[p + 1] = toByte(images[q + plane]);
        rgba[p + 2] = toByte(images[q + 2 * plane]);
      }
    }
  }
}

/** Draws the selected/rejected frame of the image at (ox, oy): in the padding ring, or over its outermost pixels when padding < 2. */
function drawFrame(rgba: Buffer, g: GridLayout, rgb: readonly [number, number, number], ox: number, oy: number): void {
  // Frame rectangle [fx0, fx1) x [fy0, fy1) and its thickness.
  const bw = Math.floor(g.padding / 2);
  const t = bw >= 1 ? bw : 1;
  const fx0 = bw >= 1 ? ox - bw : ox;
  const fy0 = bw >= 1 ? oy - bw : oy;
  const fx1 = bw >= 1 ? ox + g.w + bw : ox + g.w;
  const fy1 = bw >= 1 ? oy + g.h + bw : oy + g.h;
  for (let y = fy0; y < fy1; y++) {
    for (let x = fx0; x < fx1; x++) {
      const inner = x >= fx0 + t && x < fx1 - t && y >= fy0 + t && y < fy1 - t;
      if (inner) continue;
      const p = (y * g.gw + x) * 4;
      rgba[p] = rgb[0];
      rgba[p + 1] = rgb[1];
      rgba[p + 2] = rgb[2];
    }
  }
}

/** The grid's RGBA pixels as a PNG, upscaled by nearest neighbour. */
function scaledPng(rgba: Buffer, g: GridLayout): PNG {
  const { gw, gh, scale } = g;
  const png = new PNG({ width: gw * scale, height: gh * scale });
  if (scale === 1) {
    rgba.copy(png.data);
    return png;
  }
  const W = gw * scale;
  for (let y = 0; y < gh * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < W; x++) {
      const s = (sy * gw + Math.floor(x / scale)) * 4;
      const d = (y * W + x) * 4;
      png.data[d] = rgba[s];
      png.data[d + 1] = rgba[s + 1];
      png.data[d + 2] = rgba[s + 2];
      png.data[d + 3] = rgba[s + 3];
    }
  }
  return png;
}

/**
 * Lay out `n` images of shape [c, h, w] (NCHW, c = 1 gray or 3 RGB) in a grid
 * of `nrow` columns, torchvision style: image k sits at row floor(k / nrow),
 * column k % nrow, top-left pixel (padding + row * (h + padding),
 * padding + col * (w + padding)) before scaling. Returns an opaque RGBA PNG.
 */
export function imageGrid(
  images: Float32Array,
  shape: [number, number, number, number],
  opts: ImageGridOptions = {},
): PNG {
  const g = gridLayout(images, shape, opts);
  const rgba = Buffer.alloc(g.gw * g.gh * 4);
  const pad = Math.round(g.padValue * 255);
  for (let p = 0; p < g.gw * g.gh; p++) {
    rgba[4 * p] = pad;
    rgba[4 * p + 1] = pad;
    rgba[4 * p + 2] = pad;
    rgba[4 * p + 3] = 255;
  }
  for (let k = 0; k < g.n; k++) {
    const oy = g.padding + Math.floor(k / g.cols) * (g.h + g.padding);
    const ox = g.padding + (k % g.cols) * (g.w + g.padding);
    drawImage(rgba, g, images, k, ox, oy);
    if (g.marks !== undefined) drawFrame(rgba, g, g.marks[k] ? SELECTED_RGB : REJECTED_RGB, ox, oy);
  }
  return scaledPng(rgba, g);
}

/** Encode a PNG object to bytes. */
export function encodePng(png: PNG): Buffer {
  return PNG.sync.write(png);
}

/**
 * Build an {@link imageGrid} and write it to `filePath` atomically (temporary
 * sibling file + rename, via `writeFileAtomic`); the parent directory is
 * created if needed. Throws DfkdError on invalid input or I/O failure.
 */
export function savePngGrid(
  filePath: string,
  images: Float32Array,
  shape: [number, number, number, number],
  opts: ImageGridOptions = {},
): void {
  const bytes = encodePng(imageGrid(images, shape, opts));
  try {
    fs.mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new DfkdError(`cannot create directory for '${filePath}': ${code}`, code);
  }
  writeFileAtomic(filePath, bytes);
}

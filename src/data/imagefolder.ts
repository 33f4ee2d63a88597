/**
 * "ImageFolder" dataset reader: `dir/<class name>/<image>.{png,jpg,jpeg}`, one subfolder per class.
 * Classes are the sorted subfolder names (label = index in that order); files within a class are
 * read in sorted order. Images are not resized: they must all have the requested size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { DfkdError } from '../errors';
import { readFileOrThrow } from './idx';
import { checkImageHeader, checkFolderBytes } from './image-header';
import type { RawImages } from './raw';

/** Options for {@link readImageFolder}. */
export interface ImageFolderOptions {
  /** Required [height, width]; default: the size of the first image (all others must match). */
  size?: [number, number];
  /** Output channels: 1 (luma grayscale) or 3 (RGB). */
  channels: 1 | 3;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Decode a PNG or JPEG file to 8-bit RGBA. */
function decodeImage(file: string): { width: number; height: number; rgba: Uint8Array } {
  const buf = readFileOrThrow(file, 'image file');
  const isPng = buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47;
  const isJpeg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  if (isPng || isJpeg) checkImageHeader(buf, file, isPng ? 'png' : 'jpeg');
  try {
    if (isPng) {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (isJpeg) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (e) {
    throw new DfkdError(`image file '${file}' cannot be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
  throw new DfkdError(`image file '${file}' is neither a PNG nor a JPEG (unrecognised file signature)`);
}

function listDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw new DfkdError(`image folder '${dir}' does not exist`, code);
    if (code === 'ENOTDIR') throw new DfkdError(`image folder '${dir}' is not a directory`, code);
    throw new DfkdError(`cannot read image folder '${dir}': ${code}`, code);
  }
}

function checkOptions(opts: ImageFolderOptions): void {
  if (opts.channels !== 1 && opts.channels !== 3) {
    throw new DfkdError(`readImageFolder: option 'channels' must be 1 or 3, got ${String(opts.channels)}`);
  }
  if (opts.size !== undefined) {
    const s = opts.size;
    if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d > 0)) {
      throw new DfkdError(`readImageFolder: option 'size' must be [height, width] with positive integers, got ${JSON.stringify(s)}`);
    }
  }
}

/** The class subfolders (sorted) and every image file in them, labelled by its folder's index. */
function listImages(dir: string): { classNames: string[]; files: { file: string; label: number }[] } {
  const classNames = listDir(dir)
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  if (classNames.length === 0) {
    throw new DfkdError(`image folder '${dir}' has no class subfolders; expected one subfolder per class containing .png/.jpg images`);
  }
  const files: { file: string; label: number }[] = [];
  classNames.forEach((cls, label) => {
    const names = listDir(path.join(dir, cls))
      .filter((d) => d.isFile() && !d.name.startsWith('.') && IMAGE_EXT.test(d.name))
      .map((d) => d.name)
      .sort();
    for (const name of names) files.push({ file: path.join(dir, cls, name), label });
  });
  if (files.length === 0) {
    throw new DfkdError(`image folder '${dir}' contains no .png/.jpg/.jpeg images in its ${classNames.length} class subfolder(s) (${classNames.join(', ')})`);
  }
  return { classNames, files };
}

/** Writes an RGBA image's pixels at `base` of the NCHW buffer: gray by BT.601 luma, or the three colour planes. */
function writePixels(images: Uint8Array, base: number, rgba: Uint8Array, plane: number, channels: 1 | 3): void {
  for (let p = 0; p < plane; p++) {
    const r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2];
    if (channels === 1) {
      images[base + p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    } else {
      images[base + p] = r;
      images[base + plane + p] = g;
      images[base + 2 * plane + p] = b;
    }
  }
}

/**
 * Read an image-folder dataset into NCHW uint8 images. RGB is converted to grayscale with
 * ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B) when `channels` is 1; alpha is ignored.
 * Throws a DfkdError naming the offending file if an image's size differs from the expected one.
 */
export function readImageFolder(dir: string, opts: ImageFolderOptions): RawImages & { classNames: string[] } {
  checkOptions(opts);
  const channels = opts.channels;
  const { classNames, files } = listImages(dir);
  const n = files.length;
  let height = opts.size?.[0] ?? -1;
  let width = opts.size?.[1] ?? -1;
  let images: Uint8Array | undefined;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const { file, label } = files[i];
    const img = decodeImage(file);
    if (height < 0) {
      height = img.height;
      width = img.width;
    }
    if (img.height !== height || img.width !== width) {
      const why = opts.size ? 'the requested size' : `the size of the first image '${files[0].file}'`;
      throw new DfkdError(`image file '${file}' is ${img.height}x${img.width} (HxW), expected ${height}x${width} (${why}); images are not resized`);
    }
    const plane = height * width;
    if (!images) checkFolderBytes(dir, n, channels, height, width);
    images ??= new Uint8Array(n * channels * plane);
    writePixels(images, i * channels * plane, img.rgba, plane, channels);
    labels[i] = label;
  }
  return { images: images ?? new Uint8Array(0), labels, n, channels, height, width, classNames };
}

/**
 * Image dimensions read from a PNG or JPEG header, so that oversized images are refused before they
 * are decoded (a 97 KB PNG can declare 10000x10000 pixels and cost over a GB to decode).
 */
import { DfkdError } from '../errors';

/** Largest image side accepted by the image-folder reader (documented in docs/reliability.md). */
export const MAX_IMAGE_SIDE = 4096;
/** Largest image folder accepted, in bytes of decoded pixels (documented in docs/reliability.md). */
export const MAX_FOLDER_BYTES = 2 ** 31;

/** Width and height from a PNG's IHDR chunk, or undefined when the header is not there. */
function pngSize(buf: Buffer): { width: number; height: number } | undefined {
  // 8-byte signature, then the IHDR chunk: length (4), type 'IHDR' (4), width (4), height (4).
  if (buf.length < 24 || buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** Width and height from a JPEG's start-of-frame segment, or undefined when none is found. */
function jpegSize(buf: Buffer): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 <= buf.length) {
    if (buf[i] !== 0xff) return undefined;
    const marker = buf[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision (1), height (2), width (2).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    if ((marker >= 0xd0 && marker <= 0xd9) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return undefined;
}

/**
 * Throws a DfkdError naming `file` when its header declares an image wider or taller than
 * MAX_IMAGE_SIDE. Files whose header cannot be read are left to the decoder (which names them too).
 */
export function checkImageHeader(buf: Buffer, file: string, kind: 'png' | 'jpeg'): void {
  const size = kind === 'png' ? pngSize(buf) : jpegSize(buf);
  if (!size) return;
  if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) {
    throw new DfkdError(
      `image file '${file}' is ${size.height}x${size.width} (HxW) by its header, above the limit of ${MAX_IMAGE_SIDE} pixels a side; it was not decoded (images are not resized: give images of the model's input size)`,
      'EIMAGESIZE',
    );
  }
}

/** Throws a DfkdError naming `dir` when `n` decoded images would need more than MAX_FOLDER_BYTES. */
export function checkFolderBytes(dir: string, n: number, channels: number, height: number, width: number): void {
  const bytes = n * channels * height * width;
  if (bytes > MAX_FOLDER_BYTES) {
    throw new DfkdError(
      `image folder '${dir}': ${n} images of ${channels}x${height}x${width} need ${(bytes / 2 ** 30).toFixed(1)} GiB, above the limit of ${MAX_FOLDER_BYTES / 2 ** 30} GiB`,
      'EIMAGESIZE',
    );
  }
}

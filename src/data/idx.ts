/**
 * Reader for the IDX format used by MNIST / Fashion-MNIST
 * (magic: 0x00 0x00 <type> <ndim>, then ndim big-endian u32 dims, then the data).
 * Files may be gzip-compressed (detected by the 1f 8b magic).
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DfkdError } from '../errors';

const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/** Read a file, turning OS errors into DfkdErrors that name the file. */
export function readFileOrThrow(filePath: string, what: string): Buffer {
  try {
    return fs.readFileSync(filePath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw new DfkdError(`${what} '${filePath}' does not exist`, code);
    throw new DfkdError(`cannot read ${what} '${filePath}': ${code}: ${e instanceof Error ? e.message : String(e)}`, code);
  }
}

/** Decompress `buf` if it starts with the gzip magic bytes, otherwise return it unchanged. */
export function maybeGunzip(buf: Buffer, source: string): Buffer {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return zlib.gunzipSync(buf);
    } catch (e) {
      throw new DfkdError(`file '${source}' looks gzip-compressed but cannot be decompressed (${e instanceof Error ? e.message : String(e)}); it is probably truncated or corrupt`);
    }
  }
  return buf;
}

/**
 * Parse an (already decompressed) IDX buffer. Only the unsigned-byte type (0x08) is supported.
 * `source` names the file in error messages.
 */
export function decodeIdx(buf: Buffer, source: string): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4) {
    throw new DfkdError(`IDX file '${source}': ${buf.length} bytes is too short for the 4-byte magic number`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    const magic = [...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DfkdError(`IDX file '${source}': bad magic number ${magic}, expected 00 00 <type> <ndim>; not an IDX file`);
  }
  const type = buf[2];
  const ndim = buf[3];
  if (type !== 0x08) {
    const name = IDX_TYPE_NAMES[type] ? ` (${IDX_TYPE_NAMES[type]})` : '';
    throw new DfkdError(`IDX file '${source}': unsupported data type 0x${type.toString(16).padStart(2, '0')}${name}, expected 0x08 (unsigned byte)`);
  }
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen) {
    throw new DfkdError(`IDX file '${source}': truncated header: ${ndim} dimensions need ${headerLen} header bytes, file has ${buf.length}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = buf.readUInt32BE(4 + 4 * i);
    dims.push(d);
    count *= d;
  }
  const actual = buf.length - headerLen;
  if (actual < count) {
    throw new DfkdError(`IDX file '${source}': truncated data: dims [${dims.join(',')}] need ${count} bytes, found ${actual}`);
  }
  if (actual > count) {
    throw new DfkdError(`IDX file '${source}': ${actual - count} unexpected trailing bytes: dims [${dims.join(',')}] need ${count} data bytes, found ${actual}`);
  }
  const data = new Uint8Array(count);
  data.set(buf.subarray(headerLen));
  return { dims, data };
}

/** Read an IDX file (raw or gzip-compressed) of unsigned bytes. */
export function readIdx(filePath: string): { dims: number[]; data: Uint8Array } {
  const buf = maybeGunzip(readFileOrThrow(filePath, 'IDX file'), filePath);
  return decodeIdx(buf, filePath);
}

/**
 * Reader/writer for the safetensors format (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes]  N, little-endian u64: byte length of the JSON header
 *   [N bytes]  UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { str: str } }
 *              padded with spaces so that N is a multiple of 8
 *   [rest]     tensor data, row-major, little endian; offsets are relative to the first byte after the header
 *
 * Pure TypeScript over Buffers/typed arrays. Writing supports F32, F64, I64, I32, U8 and BOOL;
 * reading additionally accepts F16 and BF16, which are converted to F32.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { DfkdError } from '../errors';
import { writeFileAtomic } from './atomic';

/** Tensor element types that can be written and read. */
export type STDType = 'F32' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** A named tensor: dtype, shape and C-contiguous data. BOOL uses a Uint8Array of 0/1. */
export interface NamedArray {
  dtype: STDType;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

/** Expected dtype/shape of one tensor, for {@link checkTensors}. */
export interface ExpectedTensor {
  shape: number[];
  dtype?: STDType;
}

type TypedArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Uint8ArrayConstructor;

interface DTypeSpec {
  size: number;
  ctor: TypedArrayCtor;
}

const DTYPES: Record<STDType, DTypeSpec> = {
  F32: { size: 4, ctor: Float32Array },
  F64: { size: 8, ctor: Float64Array },
  I64: { size: 8, ctor: BigInt64Array },
  I32: { size: 4, ctor: Int32Array },
  U8: { size: 1, ctor: Uint8Array },
  BOOL: { size: 1, ctor: Uint8Array },
};

/** Half-precision dtypes accepted on read only (converted to F32). */
const READ_ONLY_DTYPES: Record<string, number> = { F16: 2, BF16: 2 };

const METADATA_KEY = '__metadata__';
const IS_LE = os.endianness() === 'LE';
const DEFAULT_SOURCE = '<buffer>';

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function isSTDType(d: unknown): d is STDType {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, d);
}

function supportedDtypesText(): string {
  return [...Object.keys(DTYPES), ...Object.keys(READ_ONLY_DTYPES).map((d) => `${d} (read-only)`)].join(', ');
}

/** Product of a shape; [] (scalar) has one element. */
function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0) && Number.isSafeInteger(numel(shape));
}

/** Reverse the byte order of every `size`-byte element in place (big-endian hosts only). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** A JSON.parse message without the excerpt of the text it quotes (file content stays out of errors). */
function withoutExcerpt(msg: string): string {
  return msg.replace(/, ".*"(\.\.\.)? is not valid JSON$/s, ' (not valid JSON)');
}

function fail(source: string, what: string): never {
  throw new DfkdError(`safetensors file '${source}': ${what}`);
}

function ctorName(data: unknown): string {
  if (data === null || data === undefined) return String(data);
  return (data as object).constructor?.name ?? typeof data;
}

/**
 * Serialise tensors (and optional string metadata) to a safetensors Buffer.
 * Tensor names are sorted, so the same input always yields identical bytes.
 * Throws DfkdError if a tensor's dtype, shape or data array is inconsistent.
 */
export function encodeSafetensors(tensors: Record<string, NamedArray>, metadata?: Record<string, string>): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  const meta = metadata === undefined ? {} : checkedMetadata(metadata);
  if (Object.keys(meta).length > 0) header[METADATA_KEY] = meta;
  let offset = 0;
  for (const name of names) {
    const nbytes = checkedByteLength(name, tensors[name]);
    header[name] = { dtype: tensors[name].dtype, shape: [...tensors[name].shape], data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  }
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const t = tensors[name];
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos);
    if (!IS_LE) swapBytes(out.subarray(pos, pos + src.length), DTYPES[t.dtype].size);
    pos += src.length;
  }
  return out;
}

const ENCODE = 'safetensors encode';

/** The metadata in key order, each value checked to be a string. */
function checkedMetadata(metadata: Record<string, string>): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const k of Object.keys(metadata).sort()) {
    const v = metadata[k];
    if (typeof v !== 'string') {
      throw new DfkdError(`${ENCODE}: metadata field '${k}' must be a string, got ${typeof v}`);
    }
    meta[k] = v;
  }
  return meta;
}

/** The byte length of tensor `name`, after checking its name, dtype, shape, data array and (BOOL) values. */
function checkedByteLength(name: string, t: NamedArray): number {
  if (name === METADATA_KEY || name === '__proto__' || name.length === 0) {
    throw new DfkdError(`${ENCODE}: invalid tensor name '${name}'`);
  }
  if (!isSTDType(t?.dtype)) {
    throw new DfkdError(`${ENCODE}: tensor '${name}' has dtype '${String(t?.dtype)}', expected one of ${Object.keys(DTYPES).join(', ')}`);
  }
  const spec = DTYPES[t.dtype];
  if (!isValidShape(t.shape)) {
    throw new DfkdError(`${ENCODE}: tensor '${name}' has invalid shape ${JSON.stringify(t.shape)}, expected an array of non-negative integers`);
  }
  if (!(t.data instanceof spec.ctor)) {
    throw new DfkdError(`${ENCODE}: tensor '${name}' has dtype ${t.dtype} but its data is a ${ctorName(t.data)}, expected ${spec.ctor.name}`);
  }
  const n = numel(t.shape);
  if (t.data.length !== n) {
    throw new DfkdError(`${ENCODE}: tensor '${name}' has shape ${fmtShape(t.shape)} (${n} elements) but its data has ${t.data.length} elements`);
  }
  if (t.dtype === 'BOOL') {
    const d = t.data as Uint8Array;
    for (let i = 0; i < d.length; i++) {
      if (d[i] > 1) throw new DfkdError(`${ENCODE}: BOOL tensor '${name}' has value ${d[i]} at index ${i}, expected 0 or 1`);
    }
  }
  return n * spec.size;
}

/** IEEE 754 binary16 bits -> number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse a safetensors buffer. Data is copied into freshly allocated (aligned) typed arrays.
 * F16/BF16 tensors are converted to F32. `source` (e.g. the file path) is used in error messages.
 * Throws DfkdError on short/truncated files, bad header length, invalid JSON, unsupported dtypes,
 * bad shapes, data_offsets that are out of range or inconsistent with dtype × shape, and
 * overlapping, non-contiguous or trailing data.
 */
export function decodeSafetensors(buf: Buffer, source: string = DEFAULT_SOURCE): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  const { header, dataStart } = readHeader(buf, source);
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__proto__') fail(source, `the name '__proto__' is not allowed for a tensor or metadata field`);
    if (name === METADATA_KEY) Object.assign(metadata, parseMetadata(raw, source));
    else entries.push(parseEntry(name, raw, dataLen, source));
  }
  checkCoverage(entries, dataLen, source);
  const tensors: Record<string, NamedArray> = {};
  for (const e of entries) tensors[e.name] = decodeEntry(buf.subarray(dataStart + e.begin, dataStart + e.end), e);
  return { tensors, metadata };
}

/** The JSON header of a safetensors buffer and where its data section starts. */
function readHeader(buf: Buffer, source: string): { header: Record<string, unknown>; dataStart: number } {
  if (buf.length < 8) {
    fail(source, `file is ${buf.length} bytes, too short to hold the 8-byte header length`);
  }
  const n64 = buf.readBigUInt64LE(0);
  if (n64 > BigInt(buf.length - 8)) {
    // The length itself is not printed: in a file that is not safetensors it is the file's first 8 bytes.
    fail(source, `the header length in its first 8 bytes exceeds the ${buf.length - 8} bytes available after them (file size ${buf.length}); the file is truncated or not a safetensors file`);
  }
  const headerLen = Number(n64);
  if (headerLen < 2) {
    fail(source, `header length is ${headerLen}, expected at least 2 bytes of JSON`);
  }
  const dataStart = 8 + headerLen;
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, dataStart));
  } catch (e) {
    fail(source, `header is not valid JSON (${withoutExcerpt(e instanceof Error ? e.message : String(e))})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(source, `header must be a JSON object, got ${Array.isArray(header) ? 'array' : header === null ? 'null' : typeof header}`);
  }
  return { header: header as Record<string, unknown>, dataStart };
}

/** The header's `__metadata__` entry: an object of string values. */
function parseMetadata(raw: unknown, source: string): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(source, `'${METADATA_KEY}' must be an object of string values, got ${JSON.stringify(raw)}`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === '__proto__') fail(source, `the name '__proto__' is not allowed for a tensor or metadata field`);
    if (typeof v !== 'string') fail(source, `metadata field '${k}' must be a string, got ${JSON.stringify(v)}`);
    metadata[k] = v;
  }
  return metadata;
}

/** One tensor's header entry, checked: a known dtype, a valid shape, and offsets that fit dtype x shape and the data section. */
function parseEntry(name: string, raw: unknown, dataLen: number, source: string): HeaderEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(source, `tensor '${name}' header entry must be an object, got ${JSON.stringify(raw)}`);
  }
  const e = raw as Record<string, unknown>;
  const dtype = e.dtype;
  if (typeof dtype !== 'string' || !(isSTDType(dtype) || Object.prototype.hasOwnProperty.call(READ_ONLY_DTYPES, dtype))) {
    fail(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}, expected one of ${supportedDtypesText()}`);
  }
  if (!isValidShape(e.shape)) {
    fail(source, `tensor '${name}' has invalid shape ${JSON.stringify(e.shape)}, expected an array of non-negative integers`);
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
    fail(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}, expected [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offs as [number, number];
  const elemSize = isSTDType(dtype) ? DTYPES[dtype].size : READ_ONLY_DTYPES[dtype];
  const want = numel(e.shape) * elemSize;
  if (end - begin !== want) {
    fail(source, `tensor '${name}' data_offsets [${begin},${end}] span ${end - begin} bytes, expected ${want} (${dtype} × shape ${fmtShape(e.shape)})`);
  }
  if (end > dataLen) {
    fail(source, `tensor '${name}' data_offsets [${begin},${end}] extend past the end of the data section (${dataLen} bytes after the header); the file is truncated`);
  }
  return { name, dtype, shape: e.shape, begin, end };
}

/** The data section must be covered exactly once, in order, with no gaps, overlaps or trailing bytes. */
function checkCoverage(entries: HeaderEntry[], dataLen: number, source: string): void {
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let prev: HeaderEntry | undefined;
  for (const e of byOffset) {
    if (e.begin !== expectedBegin) {
      const what = e.begin < expectedBegin ? 'overlaps' : 'leaves a gap after';
      fail(source, `tensor '${e.name}' data_offsets [${e.begin},${e.end}] ${what} ${prev ? `tensor '${prev.name}' (ending at ${expectedBegin})` : 'the start of the data section'}; tensors must be contiguous`);
    }
    expectedBegin = e.end;
    prev = e;
  }
  if (expectedBegin !== dataLen) {
    fail(source, `data section is ${dataLen} bytes but the tensors cover ${expectedBegin} bytes (${dataLen - expectedBegin} trailing bytes)`);
  }
}

/** A tensor's bytes copied into a fresh (aligned) typed array; F16 and BF16 become F32. */
function decodeEntry(bytes: Buffer, e: HeaderEntry): NamedArray {
  const n = numel(e.shape);
  if (e.dtype === 'F16' || e.dtype === 'BF16') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const h = bytes[2 * i] | (bytes[2 * i + 1] << 8);
      out[i] = e.dtype === 'F16' ? halfToFloat(h) : bf16ToFloat(h);
    }
    return { dtype: 'F32', shape: e.shape, data: out };
  }
  const dtype = e.dtype as STDType;
  const spec = DTYPES[dtype];
  const data = new spec.ctor(n);
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  view.set(bytes);
  if (!IS_LE) swapBytes(view, spec.size);
  return { dtype, shape: e.shape, data };
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16ToFloat(h: number): number {
  bf16Scratch.setUint32(0, h << 16 >>> 0);
  return bf16Scratch.getFloat32(0);
}

/** Atomically write tensors (+ metadata) to `filePath` in safetensors format. */
export function saveSafetensors(filePath: string, tensors: Record<string, NamedArray>, metadata?: Record<string, string>): void {
  let buf: Buffer;
  try {
    buf = encodeSafetensors(tensors, metadata);
  } catch (e) {
    if (e instanceof DfkdError) throw new DfkdError(`safetensors file '${filePath}': ${e.message.replace(/^safetensors encode: /, '')}`, e.code);
    throw e;
  }
  writeFileAtomic(filePath, buf);
}

/** Read and validate a safetensors file; errors name the file. */
export function loadSafetensors(filePath: string): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(filePath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw new DfkdError(`safetensors file '${filePath}' does not exist`, code);
    if (code === 'EISDIR') throw new DfkdError(`safetensors file '${filePath}' is a directory, expected a file`, code);
    throw new DfkdError(`cannot read safetensors file '${filePath}': ${code}: ${e instanceof Error ? e.message : String(e)}`, code);
  }
  return decodeSafetensors(buf, filePath);
}

/**
 * Compare loaded tensors with expectations. Returns every problem found (missing, unexpected,
 * wrong shape, wrong dtype, data length inconsistent with shape), one human-readable line each;
 * an empty array means everything matches.
 */
export function checkTensors(actual: Record<string, NamedArray>, expected: Record<string, ExpectedTensor>): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(expected).sort()) {
    const exp = expected[name];
    const act = actual[name];
    const expDesc = `shape ${fmtShape(exp.shape)}${exp.dtype ? ` dtype ${exp.dtype}` : ''}`;
    if (act === undefined) {
      problems.push(`missing tensor '${name}' (expected ${expDesc})`);
      continue;
    }
    const shapeOk = act.shape.length === exp.shape.length && act.shape.every((d, i) => d === exp.shape[i]);
    if (!shapeOk) problems.push(`tensor '${name}' has shape ${fmtShape(act.shape)}, expected ${fmtShape(exp.shape)}`);
    if (exp.dtype !== undefined && act.dtype !== exp.dtype) {
      problems.push(`tensor '${name}' has dtype ${act.dtype}, expected ${exp.dtype}`);
    }
    if (act.data.length !== numel(act.shape)) {
      problems.push(`tensor '${name}' has ${act.data.length} data elements, expected ${numel(act.shape)} for shape ${fmtShape(act.shape)}`);
    }
  }
  for (const name of Object.keys(actual).sort()) {
    if (!Object.prototype.hasOwnProperty.call(expected, name)) {
      const a = actual[name];
      problems.push(`unexpected tensor '${name}' (shape ${fmtShape(a.shape)} dtype ${a.dtype})`);
    }
  }
  return problems;
}

/**
 * Throw a DfkdError listing all problems reported by {@link checkTensors}, prefixed with the
 * file name, if any. Convenience for checkpoint loaders.
 */
export function assertTensors(actual: Record<string, NamedArray>, expected: Record<string, ExpectedTensor>, source: string): void {
  const problems = checkTensors(actual, expected);
  if (problems.length > 0) {
    throw new DfkdError(`safetensors file '${source}': ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
  }
}

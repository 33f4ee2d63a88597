import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkTensors,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
  type NamedArray,
} from '../src/io/safetensors';
import { writeFileAtomic, writeJsonAtomic } from '../src/io/atomic';
import { DfkdError } from '../src/errors';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dfkd-st-'));
}

function bytesOf(a: NamedArray['data']): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function sample(): Record<string, NamedArray> {
  const f32 = new Float32Array([1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -2.25]);
  // A NaN with a non-default payload must survive bit-exactly.
  new DataView(f32.buffer).setUint32(2 * 4, 0x7fc12345, true);
  return {
    'w.f32': { dtype: 'F32', shape: [2, 4], data: f32 },
    'w.f64': { dtype: 'F64', shape: [3], data: new Float64Array([Math.PI, -0, 1e-300]) },
    'w.i64': { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
    'w.i32': { dtype: 'I32', shape: [1, 3], data: new Int32Array([-2147483648, 0, 2147483647]) },
    'w.u8': { dtype: 'U8', shape: [4], data: new Uint8Array([0, 1, 128, 255]) },
    'w.bool': { dtype: 'BOOL', shape: [2, 1], data: new Uint8Array([1, 0]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([7]) },
    empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
  };
}

test('round-trip is bit-exact for every dtype (incl. NaN payload and -0)', () => {
  const t = sample();
  const buf = encodeSafetensors(t, { format: 'pt', step: '12' });
  const back = decodeSafetensors(buf, 'mem');
  assert.deepEqual(back.metadata, { format: 'pt', step: '12' });
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(t).sort());
  for (const [name, a] of Object.entries(t)) {
    const b = back.tensors[name];
    assert.equal(b.dtype, a.dtype, name);
    assert.deepEqual(b.shape, a.shape, name);
    assert.equal(b.data.constructor, a.data.constructor, name);
    assert.ok(bytesOf(b.data).equals(bytesOf(a.data)), `bytes of ${name}`);
  }
  const f = back.tensors['w.f32'].data as Float32Array;
  assert.ok(Object.is(f[1], -0));
  assert.ok(Number.isNaN(f[2]));
  assert.equal(new DataView(f.buffer).getUint32(8, true), 0x7fc12345);
  assert.equal((back.tensors['w.i64'].data as BigInt64Array)[0], -(2n ** 63n));
});

test('encoding is deterministic, sorted, 8-byte aligned header', () => {
  const t = sample();
  const reversed: Record<string, NamedArray> = {};
  for (const k of Object.keys(t).reverse()) reversed[k] = t[k];
  const a = encodeSafetensors(t, { b: '2', a: '1' });
  const b = encodeSafetensors(reversed, { a: '1', b: '2' });
  assert.ok(a.equals(b));
  const n = Number(a.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(a.toString('utf8', 8, 8 + n));
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  assert.deepEqual(names, [...names].sort());
  // Tensors are laid out in sorted order, contiguously.
  let off = 0;
  for (const k of names) {
    assert.equal(header[k].data_offsets[0], off);
    off = header[k].data_offsets[1];
  }
  assert.equal(a.length, 8 + n + off);
});

test('reads a file written by hand per the spec (unaligned data, F16/BF16 conversion)', () => {
  const headerObj = {
    __metadata__: { author: 'hand' },
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'U8', shape: [3], data_offsets: [8, 11] },
    c: { dtype: 'I32', shape: [1], data_offsets: [11, 15] }, // unaligned offset
    h: { dtype: 'F16', shape: [3], data_offsets: [15, 21] },
    z: { dtype: 'BF16', shape: [1], data_offsets: [21, 23] },
  };
  const json = Buffer.from(JSON.stringify(headerObj)); // deliberately unpadded: readers must accept it
  const data = Buffer.alloc(23);
  data.writeFloatLE(1.25, 0);
  data.writeFloatLE(-3, 4);
  data.set([9, 8, 7], 8);
  data.writeInt32LE(-123456, 11);
  data.writeUInt16LE(0x3c00, 15); // 1.0
  data.writeUInt16LE(0xc000, 17); // -2.0
  data.writeUInt16LE(0x7c00, 19); // +inf
  data.writeUInt16LE(0x3fc0, 21); // bf16 1.5
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const dir = tmpDir();
  const file = path.join(dir, 'hand.safetensors');
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  const { tensors, metadata } = loadSafetensors(file);
  assert.deepEqual(metadata, { author: 'hand' });
  assert.deepEqual([...(tensors.a.data as Float32Array)], [1.25, -3]);
  assert.deepEqual([...(tensors.b.data as Uint8Array)], [9, 8, 7]);
  assert.deepEqual([...(tensors.c.data as Int32Array)], [-123456]);
  assert.equal(tensors.h.dtype, 'F32');
  assert.deepEqual([...(tensors.h.data as Float32Array)], [1, -2, Infinity]);
  assert.deepEqual([...(tensors.z.data as Float32Array)], [1.5]);
});

test('save/load through the filesystem, atomically (no temp files left)', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'm.safetensors');
  saveSafetensors(file, sample(), { k: 'v' });
  saveSafetensors(file, { x: { dtype: 'I32', shape: [1], data: new Int32Array([5]) } });
  assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
  const back = loadSafetensors(file);
  assert.deepEqual(Object.keys(back.tensors), ['x']);
  assert.deepEqual(back.metadata, {});
  writeJsonAtomic(path.join(dir, 'j.json'), { a: [1, 2] });
  assert.equal(fs.readFileSync(path.join(dir, 'j.json'), 'utf8'), '{\n  "a": [\n    1,\n    2\n  ]\n}\n');
  assert.throws(() => loadSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors' does not exist/);
});

test('writeFileAtomic reports the path and OS error code', () => {
  const dir = tmpDir();
  const target = path.join(dir, 'no-such-dir', 'f.bin');
  assert.throws(() => writeFileAtomic(target, 'x'), (e: unknown) => {
    assert.ok(e instanceof DfkdError);
    assert.equal(e.name, 'DfkdError');
    assert.equal(e.code, 'ENOENT');
    assert.match(e.message, /no-such-dir\/f\.bin/);
    assert.match(e.message, /ENOENT/);
    return true;
  });
});

test('writeFileAtomic: disk full gives a clear ENOSPC message and removes the temp file', () => {
  // Patch the real CommonJS fs module (the namespace import in atomic.ts reads through to it).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const realFs = require('node:fs') as typeof import('node:fs');
  const dir = tmpDir();
  const target = path.join(dir, 'ckpt.safetensors');
  fs.writeFileSync(target, 'old');
  const orig = realFs.writeSync;
  realFs.writeSync = (() => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }) as typeof realFs.writeSync;
  try {
    assert.throws(() => writeFileAtomic(target, Buffer.alloc(100)), (e: unknown) => {
      assert.ok(e instanceof DfkdError);
      assert.equal(e.code, 'ENOSPC');
      assert.match(e.message, /^disk full while writing '.*ckpt\.safetensors'/);
      return true;
    });
  } finally {
    realFs.writeSync = orig;
  }
  assert.deepEqual(fs.readdirSync(dir), ['ckpt.safetensors']);
  assert.equal(fs.readFileSync(target, 'utf8'), 'old');
});

test('truncated file and short file are rejected with the file name', () => {
  const buf = encodeSafetensors(sample());
  assert.throws(() => decodeSafetensors(buf.subarray(0, buf.length - 3), 'cut.safetensors'),
    /safetensors file 'cut\.safetensors': tensor '.*' data_offsets \[\d+,\d+\] extend past the end of the data section .*truncated/);
  assert.throws(() => decodeSafetensors(Buffer.alloc(5), 'tiny.st'), /'tiny\.st': file is 5 bytes, too short/);
  assert.throws(() => decodeSafetensors(buf.subarray(0, 20), 'head.st'), /'head\.st': the header length in its first 8 bytes exceeds the 12 bytes available after them/);
});

test('bad header length, bad JSON, bad dtype/shape, offset mismatch, gaps, trailing bytes', () => {
  const mk = (header: unknown, dataLen: number, raw?: string): Buffer => {
    const json = Buffer.from(raw ?? JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, Buffer.alloc(dataLen)]);
  };
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 62n);
  assert.throws(() => decodeSafetensors(huge, 'f'), /'f': the header length in its first 8 bytes exceeds the 8 bytes available after them \(file size 16\)/);
  assert.throws(() => decodeSafetensors(mk(null, 0, '{"a": [1,'), 'bad.json.st'), /'bad\.json\.st': header is not valid JSON/);
  assert.throws(() => decodeSafetensors(mk(null, 0, '[1,2]'), 'f'), /header must be a JSON object, got array/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 12), 'off.st'),
    /'off\.st': tensor 'a' data_offsets \[0,12\] span 12 bytes, expected 16 \(F32 × shape \[2,2\]\)/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8), 'f'), /tensor 'a' has unsupported dtype "C64"/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, 1), 'f'), /tensor 'a' has invalid shape \[-1\]/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'U8', shape: [1], data_offsets: [1, 0] } }, 1), 'f'), /invalid data_offsets \[1,0\]/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] } }, 3), 'f'),
    /tensor 'b' data_offsets \[1,3\] overlaps tensor 'a'/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'U8', shape: [2], data_offsets: [1, 3] } }, 3), 'f'), /leaves a gap after the start/);
  assert.throws(() => decodeSafetensors(mk({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 5), 'f'), /data section is 5 bytes but the tensors cover 2 bytes \(3 trailing bytes\)/);
  assert.throws(() => decodeSafetensors(mk({ __metadata__: { a: 1 } }, 0), 'f'), /metadata field 'a' must be a string, got 1/);
});

test('encode validates dtype/data consistency', () => {
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }), /tensor 'a' has dtype F32 but its data is a Float64Array, expected Float32Array/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }), /tensor 'a' has shape \[2,3\] \(6 elements\) but its data has 5 elements/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'BOOL', shape: [1], data: new Uint8Array([2]) } }), /BOOL tensor 'a' has value 2/);
  assert.throws(() => saveSafetensors(path.join(tmpDir(), 'x.safetensors'), { a: { dtype: 'F32', shape: [1], data: new Float32Array(2) } }), /safetensors file '.*x\.safetensors': tensor 'a'/);
});

test('checkTensors reports all problems at once', () => {
  const actual: Record<string, NamedArray> = {
    'conv1.weight': { dtype: 'F32', shape: [6, 1, 5, 5], data: new Float32Array(150) },
    'conv1.bias': { dtype: 'F64', shape: [6], data: new Float64Array(6) },
    'fc.weight': { dtype: 'F32', shape: [10, 4], data: new Float32Array(40) },
    extra: { dtype: 'U8', shape: [1], data: new Uint8Array(1) },
  };
  const problems = checkTensors(actual, {
    'conv1.weight': { shape: [6, 3, 5, 5], dtype: 'F32' },
    'conv1.bias': { shape: [6], dtype: 'F32' },
    'fc.weight': { shape: [10, 4] },
    'fc.bias': { shape: [10], dtype: 'F32' },
  });
  assert.deepEqual(problems, [
    "tensor 'conv1.bias' has dtype F64, expected F32",
    "tensor 'conv1.weight' has shape [6,1,5,5], expected [6,3,5,5]",
    "missing tensor 'fc.bias' (expected shape [10] dtype F32)",
    "unexpected tensor 'extra' (shape [1] dtype U8)",
  ]);
  assert.deepEqual(checkTensors({ 'fc.weight': actual['fc.weight'] }, { 'fc.weight': { shape: [10, 4], dtype: 'F32' } }), []);
});

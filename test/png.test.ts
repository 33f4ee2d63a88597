import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { imageGrid, savePngGrid, SELECTED_RGB, REJECTED_RGB } from '../src/io/png';
import { DfkdError } from '../src/errors';

function pixel(png: PNG, x: number, y: number): number[] {
  const p = (y * png.width + x) * 4;
  return [png.data[p], png.data[p + 1], png.data[p + 2], png.data[p + 3]];
}

/** n gray images of h x w where image k has value (k + 1) / 10 everywhere except pixel (0,0) = 1. */
function grayImages(n: number, h: number, w: number): Float32Array {
  const a = new Float32Array(n * h * w);
  for (let k = 0; k < n; k++) {
    a.fill((k + 1) / 10, k * h * w, (k + 1) * h * w);
    a[k * h * w] = 1;
  }
  return a;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dfkd-png-'));
}

test('gray grid: layout, dimensions and pixel values after a PNG round trip', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'sub', 'grid.png');
    const n = 5, h = 3, w = 4;
    savePngGrid(file, grayImages(n, h, w), [n, 1, h, w], { nrow: 3 });
    const png = PNG.sync.read(fs.readFileSync(file));
    // 3 columns x 2 rows, padding 2: width 3 * (4 + 2) + 2, height 2 * (3 + 2) + 2
    assert.equal(png.width, 20);
    assert.equal(png.height, 12);
    // image 4 -> row 1, col 1 -> top-left at (x = 2 + 6, y = 2 + 5)
    assert.deepEqual(pixel(png, 8, 7), [255, 255, 255, 255]);
    const v = Math.round(0.5 * 255);
    assert.deepEqual(pixel(png, 9, 7), [v, v, v, 255]);
    assert.deepEqual(pixel(png, 11, 9), [v, v, v, 255]);
    // image 0 at (2, 2); image 2 at (14, 2)
    assert.deepEqual(pixel(png, 3, 3), [26, 26, 26, 255]);
    assert.deepEqual(pixel(png, 15, 3), [77, 77, 77, 255]);
    // padding and the empty 6th cell are black
    assert.deepEqual(pixel(png, 0, 0), [0, 0, 0, 255]);
    assert.deepEqual(pixel(png, 7, 7), [0, 0, 0, 255]);
    assert.deepEqual(pixel(png, 15, 8), [0, 0, 0, 255]);
    // no temporary files left behind
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['grid.png']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('RGB images, range mapping and clamping', () => {
  // one 1x2 RGB image in range [-1, 1]: pixel 0 = (-1, 0, 1), pixel 1 = (5, -5, NaN)
  const img = Float32Array.from([-1, 5, 0, -5, 1, NaN]);
  const png = imageGrid(img, [1, 3, 1, 2], { range: [-1, 1], padding: 0 });
  assert.equal(png.width, 2);
  assert.equal(png.height, 1);
  assert.deepEqual(pixel(png, 0, 0), [0, 128, 255, 255]);
  assert.deepEqual(pixel(png, 1, 0), [255, 0, 0, 255]);
});

test('marks draw green / red frames in the padding around each image', () => {
  const n = 3, h = 4, w = 4;
  const marks = Uint8Array.from([1, 0, 1]);
  const png = PNG.sync.read(PNG.sync.write(imageGrid(grayImages(n, h, w), [n, 1, h, w], { padding: 4, marks })));
  const green = [...SELECTED_RGB, 255];
  const red = [...REJECTED_RGB, 255];
  // padding 4 -> frame 2 px wide right around each image; image k top-left at (4 + 8k, 4)
  assert.deepEqual(pixel(png, 2, 2), green); // outer corner of image 0's frame
  assert.deepEqual(pixel(png, 3, 5), green);
  assert.deepEqual(pixel(png, 8, 8), green); // right-bottom corner of image 0's frame
  assert.deepEqual(pixel(png, 10, 5), red); // left side of image 1's frame
  assert.deepEqual(pixel(png, 17, 9), red);
  assert.deepEqual(pixel(png, 18, 5), green);
  // the outer half of the padding stays black, image pixels are untouched
  assert.deepEqual(pixel(png, 1, 1), [0, 0, 0, 255]);
  assert.deepEqual(pixel(png, 4, 4), [255, 255, 255, 255]);
  assert.deepEqual(pixel(png, 13, 5), [51, 51, 51, 255]);
});

test('marks with padding 0 are drawn over the image border; scale enlarges the grid', () => {
  const png = imageGrid(grayImages(2, 3, 3), [2, 1, 3, 3], { padding: 0, marks: Uint8Array.from([0, 1]), scale: 2 });
  assert.equal(png.width, 12);
  assert.equal(png.height, 6);
  assert.deepEqual(pixel(png, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(pixel(png, 2, 2), [26, 26, 26, 255]); // centre pixel of image 0, scaled x2
  assert.deepEqual(pixel(png, 3, 3), [26, 26, 26, 255]);
  assert.deepEqual(pixel(png, 11, 5), [0, 255, 0, 255]);
  assert.deepEqual(pixel(png, 8, 2), [51, 51, 51, 255]);
});

test('invalid input throws DfkdError', () => {
  const img = new Float32Array(12);
  assert.throws(() => imageGrid(img, [1, 1, 3, 3]), DfkdError);
  assert.throws(() => imageGrid(img, [3, 4, 1, 1]), DfkdError);
  assert.throws(() => imageGrid(img, [1, 3, 2, 2], { range: [1, 1] }), DfkdError);
  assert.throws(() => imageGrid(img, [1, 3, 2, 2], { marks: new Uint8Array(2) }), DfkdError);
  assert.throws(() => imageGrid(img, [1, 3, 2, 2], { scale: 0 }), DfkdError);
  assert.throws(() => imageGrid(new Float32Array(0), [0, 1, 2, 2]), DfkdError);
});

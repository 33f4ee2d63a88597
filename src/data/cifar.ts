/**
 * Readers for the CIFAR-10 / CIFAR-100 *binary* distributions
 * (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * CIFAR-10: data_batch_1..5.bin (train), test_batch.bin (test); record = 1 label byte + 3072 pixels.
 * CIFAR-100: train.bin, test.bin; record = 1 coarse label + 1 fine label + 3072 pixels (fine label used).
 * Pixels are channel-major (1024 R, 1024 G, 1024 B), each plane 32×32 row-major — i.e. already CHW.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DfkdError } from '../errors';
import { readFileOrThrow } from './idx';
import type { RawImages } from './raw';

const PIXELS = 3 * 32 * 32;

interface CifarLayout {
  title: string;
  subdir: string;
  labelBytes: number;
  labelOffset: number;
  classes: number;
  files: Record<'train' | 'test', string[]>;
}

const LAYOUTS: Record<'cifar10' | 'cifar100', CifarLayout> = {
  cifar10: {
    title: 'CIFAR-10',
    subdir: 'cifar-10-batches-bin',
    labelBytes: 1,
    labelOffset: 0,
    classes: 10,
    files: {
      train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
      test: ['test_batch.bin'],
    },
  },
  cifar100: {
    title: 'CIFAR-100',
    subdir: 'cifar-100-binary',
    labelBytes: 2,
    labelOffset: 1,
    classes: 100,
    files: { train: ['train.bin'], test: ['test.bin'] },
  },
};

/**
 * Load a CIFAR split from `dir` (or from its standard extracted subfolder
 * `cifar-10-batches-bin/` / `cifar-100-binary/`). Returns 3×32×32 uint8 images (NCHW).
 */
export function readCifar(dir: string, variant: 'cifar10' | 'cifar100', split: 'train' | 'test'): RawImages {
  const layout = LAYOUTS[variant];
  if (!layout) {
    throw new DfkdError(`readCifar: unknown variant '${String(variant)}', expected 'cifar10' or 'cifar100'`);
  }
  if (split !== 'train' && split !== 'test') {
    throw new DfkdError(`readCifar: unknown split '${String(split)}', expected 'train' or 'test'`);
  }
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new DfkdError(`${layout.title} directory '${dir}' does not exist or is not a directory`, 'ENOENT');
  }
  const names = layout.files[split];
  const candidates = [dir, path.join(dir, layout.subdir)];
  const base = candidates.find((d) => names.every((f) => fs.existsSync(path.join(d, f))));
  if (base === undefined) {
    const looked = candidates.flatMap((d) => names.map((f) => path.join(d, f)));
    const missing = looked.filter((p) => !fs.existsSync(p));
    throw new DfkdError(
      `${layout.title} ${split} files not found under '${dir}': looked for ${names.join(', ')} in '${candidates.join("' and '")}'; missing: ${missing.join(', ')}. ` +
        `Download and extract the binary version from https://www.cs.toronto.edu/~kriz/cifar.html`,
      'ENOENT',
    );
  }

  const record = layout.labelBytes + PIXELS;
  const buffers = names.map((f) => {
    const p = path.join(base, f);
    const buf = readFileOrThrow(p, `${layout.title} file`);
    if (buf.length === 0 || buf.length % record !== 0) {
      throw new DfkdError(`${layout.title} file '${p}': size ${buf.length} bytes is not a positive multiple of the ${record}-byte record size (${layout.labelBytes} label byte(s) + ${PIXELS} pixels)`);
    }
    return { p, buf };
  });
  const n = buffers.reduce((s, b) => s + b.buf.length / record, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  for (const { p, buf } of buffers) {
    const count = buf.length / record;
    for (let r = 0; r < count; r++, k++) {
      const off = r * record;
      const label = buf[off + layout.labelOffset];
      if (label >= layout.classes) {
        throw new DfkdError(`${layout.title} file '${p}': record ${r} has label ${label}, expected 0..${layout.classes - 1}`);
      }
      labels[k] = label;
      images.set(buf.subarray(off + layout.labelBytes, off + record), k * PIXELS);
    }
  }
  return { images, labels, n, channels: 3, height: 32, width: 32 };
}

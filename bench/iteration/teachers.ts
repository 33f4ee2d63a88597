/**
 * Teachers for the iteration benchmark. Timing does not depend on accuracy, so by default each
 * teacher is trained briefly: `steps` SGD steps (batch 128, lr 0.05, momentum 0.9, wd 5e-4, seed 0)
 * over a fixed shuffle of the Fashion-MNIST training set. The weights are cached under
 * `<cacheDir>/<arch>-s<steps>.safetensors` and reused. `--teacher ARCH=DIR` uses a dfkd teacher
 * directory instead (e.g. one trained with configs/teachers/*.json).
 */
import * as fs from 'fs';
import * as path from 'path';
import { manualSeed, tensor, tidy, F, type Tensor } from '../../src/tensor';
import { synthesizeProbe, PROBE_DEFAULTS, definedOnly } from '../../src/distill/probe';
import { contentHash } from '../../src/util';
import type { AnchorImageRequest } from '../../src/distill/anchors';
import { SGD } from '../../src/optim';
import { buildModel } from '../../src/models';
import type { Classifier } from '../../src/models/registry';
import { loadTeacher } from '../../src/train/teacher';
import { getDatasetInfo, loadDataset } from '../../src/data/registry';
import { normalizeBatch } from '../../src/data/batches';
import { mulberry32, shuffledIndices } from '../../src/data/rng';
import { saveModule, loadModule, saveTensors, loadTensors, sha256File } from '../../src/io/weights';

export const DATASET = 'fashion-mnist';
const SHAPE = { inChannels: 1, numClasses: 10, imageSize: 32 };

export interface BenchTeacher {
  model: Classifier;
  arch: string;
  /** The weights file both sides load. */
  weightsFile: string;
  source: string;
  testAccuracy?: number;
}

export function benchTeacher(arch: string, o: { steps: number; cacheDir: string; dir?: string; log: (m: string) => void }): BenchTeacher {
  if (o.dir) {
    const { model, record } = loadTeacher(o.dir);
    if (record.arch !== arch) throw new Error(`--teacher ${arch}=${o.dir}: that directory holds a ${record.arch} teacher, not ${arch}`);
    if (record.dataset !== DATASET) throw new Error(`--teacher ${arch}=${o.dir}: the teacher is for ${record.dataset}, the benchmark needs ${DATASET}`);
    return { model, arch, weightsFile: path.join(o.dir, record.weightsFile), source: o.dir, testAccuracy: record.testAccuracy };
  }
  const file = path.join(o.cacheDir, `${arch}-s${o.steps}.safetensors`);
  const model = buildModel(arch, SHAPE);
  if (fs.existsSync(file)) {
    loadModule(file, model);
  } else {
    o.log(`training a ${arch} teacher for ${o.steps} steps (cached in ${file})`);
    trainBriefly(model, o.steps);
    fs.mkdirSync(o.cacheDir, { recursive: true });
    saveModule(file, model, { arch, dataset: DATASET, steps: String(o.steps) });
  }
  model.eval();
  return { model, arch, weightsFile: file, source: `trained ${o.steps} steps` };
}

function trainBriefly(model: Classifier, steps: number): void {
  manualSeed(0);
  const info = getDatasetInfo(DATASET);
  const raw = loadDataset(DATASET, 'train');
  const order = shuffledIndices(raw.n, mulberry32(0));
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  model.train();
  try {
    for (let s = 0; s < steps; s++) {
      const start = (s * 128) % (raw.n - 128);
      const b = normalizeBatch(raw, order.subarray(start, start + 128), info);
      tidy(() => {
        const loss = F.crossEntropy(model.call(tensor(b.data, b.shape)), tensor(b.labels, [128], 'int64'));
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
    }
  } finally {
    opt.dispose();
  }
}

/**
 * TA-DFKD's anchors (tadfkd.anchors) for a benchmark teacher, inverted once and cached beside the cached
 * teachers as `<arch>-anchors-<hash>.safetensors` (key 'anchors'; the hash covers the inversion options and
 * the teacher's weights), as `dfkd distill` caches them beside a teacher directory. The inversion is a
 * one-off cost of a run, not part of an iteration; `file` is the cache the PyTorch side then loads.
 */
export function anchorCache(t: BenchTeacher, cacheDir: string, log: (m: string) => void): { images: (o: AnchorImageRequest) => Tensor; file?: string } {
  const c: { images: (o: AnchorImageRequest) => Tensor; file?: string } = {
    images: (o) => {
      const options = { ...PROBE_DEFAULTS, ...definedOnly(o) };
      const weights = sha256File(t.weightsFile);
      const file = path.join(cacheDir, `${t.arch}-anchors-${contentHash({ options, weights }).slice(0, 16)}.safetensors`);
      c.file = file;
      if (fs.existsSync(file)) return loadTensors(file).tensors.get('anchors')!;
      log(`${t.arch}: inverting ${o.n} anchor images (${options.steps} steps per batch; cached in ${file})`);
      const x = synthesizeProbe(t.model, { channels: SHAPE.inChannels, imageSize: SHAPE.imageSize, numClasses: SHAPE.numClasses }, options);
      fs.mkdirSync(cacheDir, { recursive: true });
      saveTensors(file, new Map([['anchors', x]]), { kind: 'dfkd-bench-anchors', options: JSON.stringify(options) });
      return x;
    },
  };
  return c;
}

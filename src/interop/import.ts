/**
 * Import a teacher trained in PyTorch: a state dict saved as safetensors becomes a dfkd teacher
 * directory (weights.safetensors in dfkd's names + teacher.json), usable by `dfkd distill`.
 *
 * Known naming conventions are mapped, and every mapping is reported:
 *   - `module.` (DataParallel / DistributedDataParallel) and `_orig_mod.` (torch.compile) prefixes
 *     are stripped;
 *   - torchvision-style ResNet names map 1:1 onto dfkd's CIFAR ResNets where the layers are the same:
 *     `fc.*` -> `linear.*`, `*.downsample.0/1.*` -> `*.shortcut.0/1.*` (a rename is applied only when
 *     the original name is not one of the architecture's and the renamed one is);
 *   - missing `num_batches_tracked` buffers (older PyTorch) are filled with 0;
 *   - F64 (and F16/BF16) tensors are converted to F32, I32/F* counters to I64.
 * Then every name, shape and dtype is checked against the zoo architecture, and every missing,
 * unexpected or mis-shaped tensor is listed in one error. A torchvision (ImageNet) ResNet with a 7x7
 * stride-2 stem and max-pool cannot be mapped onto the CIFAR 3x3 stem: the error says so.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { Tensor } from '../tensor';
import { buildModel, getModel, listModelNames } from '../models';
import type { Classifier } from '../models/registry';
import { CifarResNet } from '../models/resnet';
import { getDatasetInfo, loadDataset, DatasetInfo, channelNormalisation } from '../data/registry';
import { toTensors, disposeTensors } from '../data/tensors';
import type { RawImages } from '../data/raw';
import { decodeSafetensors, NamedArray, STDType } from '../io/safetensors';
import { checkWeightValues } from '../io/weight-check';
import { fromNamedArray, saveModule, sha256File } from '../io/weights';
import { checkOutputDir, assertOwnOrEmpty } from '../io/safe-out';
import { writeJsonAtomic } from '../io/atomic';
import { evaluate } from '../train/evaluate';
import { TEACHER_RECORD, TEACHER_WEIGHTS, readTeacherRecord } from '../train/teacher';
import { versions, Versions } from '../versions';
import { contentHash, nowSeconds } from '../util';

/** How an imported teacher came to be (stands where a trained teacher's recipe stands). */
export interface ImportRecipe {
  imported: true;
  /** Absolute path of the PyTorch safetensors file that was imported. */
  sourceFile: string;
  /** SHA-256 of that file. */
  sourceSha256: string;
  /** What the import did to the names and dtypes (one line each, summarised). */
  mappings: string[];
}

/**
 * teacher.json of an imported teacher. `loadTeacher` reads arch, dataset, numClasses, inChannels,
 * imageSize, weightsFile and weightsSha256, which are the same as for a trained teacher.
 */
/** The fields every imported teacher's teacher.json holds, whatever it was imported from (zoo state dict or ONNX). */
export interface ImportedRecordFields {
  kind: 'dfkd-teacher';
  recipeHash: string;
  arch: string;
  dataset: string;
  numClasses: number;
  inChannels: number;
  imageSize: number;
  parameters: number;
  /** Test accuracy on the dataset's test split, or null when it was not measured. */
  testAccuracy: number | null;
  perClassAccuracy: number[] | null;
  ece: number | null;
  meanConfidence: number | null;
  wallTimeSec: number;
  weightsFile: string;
  weightsSha256: string;
  versions: Versions;
  createdAt: string;
}

/**
 * The fields every imported teacher's record ends with: its accuracy on the test split (null when it was not
 * measured), the import's time, the weights file and its SHA-256, versions and date.
 */
export function importedTail(
  acc: { accuracy: number; perClassAccuracy: number[]; ece: number; meanConfidence: number } | undefined,
  t0: number,
  weightsFile: string,
  wfile: string,
): Pick<ImportedRecordFields, 'testAccuracy' | 'perClassAccuracy' | 'ece' | 'meanConfidence' | 'wallTimeSec' | 'weightsFile' | 'weightsSha256' | 'versions' | 'createdAt'> {
  return {
    testAccuracy: acc ? acc.accuracy : null,
    perClassAccuracy: acc ? acc.perClassAccuracy : null,
    ece: acc ? acc.ece : null,
    meanConfidence: acc ? acc.meanConfidence : null,
    wallTimeSec: nowSeconds() - t0,
    weightsFile,
    weightsSha256: sha256File(wfile),
    versions: versions(),
    createdAt: new Date().toISOString(),
  };
}

export interface ImportedTeacherRecord extends ImportedRecordFields {
  recipe: ImportRecipe;
}

export interface ImportOptions {
  /** Zoo architecture (dfkd models). */
  arch: string;
  /** PyTorch state dict saved as safetensors. */
  weights: string;
  /** Dataset the teacher was trained on (normalisation, class names, test split). */
  dataset: string;
  /** Output teacher directory. */
  out: string;
  /** Number of classes (default: the dataset's). */
  numClasses?: number;
  /** Input channels (default: the dataset's). */
  inChannels?: number;
  /** Measure the test accuracy on the dataset's test split (default true; null + warning when the data cannot be loaded). */
  testAccuracy?: boolean;
  /** Dataset location (as --data-path elsewhere). */
  dataPath?: string;
  /** Receives warnings (default: stderr). */
  onWarn?: (msg: string) => void;
}

/** One renamed tensor. */
export interface Rename {
  from: string;
  to: string;
  rule: 'prefix' | 'torchvision';
}

export interface ImportResult {
  record: ImportedTeacherRecord;
  dir: string;
  /** Summarised mapping/conversion notes (also in record.recipe.mappings). */
  notes: string[];
  /** Every rename, source name -> dfkd name. */
  renames: Rename[];
  /** Warnings (also passed to onWarn). */
  warnings: string[];
}

const PREFIXES = ['module.', '_orig_mod.'];

/** Result of mapping source names onto the architecture's names. */
export interface NameMapping {
  /** dfkd name -> source name. */
  targets: Map<string, string>;
  renames: Rename[];
  /** Problems found while mapping (two source tensors mapping to the same name). */
  collisions: string[];
  /** Source prefixes that were stripped, with counts. */
  stripped: Map<string, number>;
}

/**
 * Maps source (PyTorch) tensor names onto the expected dfkd names: strips DataParallel/compile
 * prefixes, then applies the torchvision -> CIFAR ResNet renames where they land on an expected name.
 * Names that map to nothing expected are kept as they are (after prefix stripping) and show up as
 * unexpected.
 */
export function mapNames(sourceNames: string[], expected: Set<string>): NameMapping {
  const targets = new Map<string, string>();
  const renames: Rename[] = [];
  const collisions: string[] = [];
  const stripped = new Map<string, number>();
  for (const src of sourceNames) {
    let name = src;
    for (let again = true; again; ) {
      again = false;
      for (const p of PREFIXES) {
        if (name.startsWith(p) && name.length > p.length) {
          name = name.slice(p.length);
          stripped.set(p, (stripped.get(p) ?? 0) + 1);
          again = true;
        }
      }
    }
    if (name !== src) renames.push({ from: src, to: name, rule: 'prefix' });
    if (!expected.has(name)) {
      const tv = name.replace(/^fc\./, 'linear.').replace(/\.downsample\.(\d+)\./, '.shortcut.$1.');
      if (tv !== name && expected.has(tv)) {
        renames.push({ from: src, to: tv, rule: 'torchvision' });
        name = tv;
      }
    }
    const prev = targets.get(name);
    if (prev !== undefined) {
      collisions.push(`source tensors '${prev}' and '${src}' both map to '${name}'`);
      continue;
    }
    targets.set(name, src);
  }
  return { targets, renames, collisions, stripped };
}

/** The dtypes of a safetensors file as written (the decoder turns F16/BF16 into F32). */
function headerDtypes(buf: Buffer): Map<string, string> {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, { dtype?: string }>;
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(header)) if (k !== '__metadata__' && v && typeof v.dtype === 'string') out.set(k, v.dtype);
  return out;
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

function isFloat(d: STDType): boolean {
  return d === 'F32' || d === 'F64';
}

/** Converts an entry to the expected dtype (F32 or I64) where that is lossless enough; else undefined. */
function convert(a: NamedArray, want: STDType): NamedArray | undefined {
  if (a.dtype === want) return a;
  if (want === 'F32' && a.dtype === 'F64') return { dtype: 'F32', shape: a.shape, data: Float32Array.from(a.data as Float64Array) };
  if (want === 'I64' && (a.dtype === 'I32' || a.dtype === 'U8')) {
    return { dtype: 'I64', shape: a.shape, data: BigInt64Array.from(a.data as Int32Array | Uint8Array, (v) => BigInt(v)) };
  }
  if (want === 'I64' && isFloat(a.dtype)) {
    const d = a.data as Float32Array | Float64Array;
    if (!d.every((v) => Number.isInteger(v))) return undefined;
    return { dtype: 'I64', shape: a.shape, data: BigInt64Array.from(d, (v) => BigInt(v)) };
  }
  return undefined;
}

const ST_OF: Record<string, STDType> = { float32: 'F32', int64: 'I64' };

/** Explains why a torchvision ImageNet ResNet cannot be mapped, or undefined when that is not the case. */
function stemExplanation(model: Classifier, arch: string, tensors: Map<string, NamedArray>): string | undefined {
  if (!(model instanceof CifarResNet)) return undefined;
  const conv1 = tensors.get('conv1.weight');
  if (!conv1 || conv1.shape.length !== 4 || (conv1.shape[2] === 3 && conv1.shape[3] === 3)) return undefined;
  return (
    `'conv1.weight' has shape ${fmtShape(conv1.shape)}: a ${conv1.shape[2]}x${conv1.shape[3]} stem, as in torchvision's ImageNet ResNets ` +
    `(7x7 stride-2 conv followed by a 3x3 max-pool). dfkd's ${arch} is the CIFAR-style ResNet with a 3x3 stride-1 stem and no max-pool, ` +
    `so these weights cannot be mapped onto it (the other layers would match, the stem cannot). Import a CIFAR-style ResNet instead ` +
    `(kuangliu's pytorch-cifar, or a torchvision resnet trained with model.conv1 = nn.Conv2d(C, 64, 3, 1, 1, bias=False) and model.maxpool = nn.Identity())`
  );
}

/** Hints for the two most common shape mistakes: input channels and number of classes. */
function shapeHints(mis: Map<string, number[]>, expected: Map<string, number[]>): string[] {
  const hints: string[] = [];
  const names = [...expected.keys()];
  const firstConv = names.find((n) => n.endsWith('weight') && expected.get(n)!.length === 4);
  if (firstConv && mis.has(firstConv)) {
    const got = mis.get(firstConv)!;
    const want = expected.get(firstConv)!;
    if (got.length === 4 && got[0] === want[0] && got[2] === want[2] && got[3] === want[3] && got[1] !== want[1]) {
      hints.push(`the weights take ${got[1]}-channel input but the model was built for ${want[1]}: pass --channels ${got[1]}`);
    }
  }
  const lastW = [...names].reverse().find((n) => n.endsWith('weight') && expected.get(n)!.length === 2);
  if (lastW && mis.has(lastW)) {
    const got = mis.get(lastW)!;
    const want = expected.get(lastW)!;
    if (got.length === 2 && got[1] === want[1] && got[0] !== want[0]) {
      hints.push(`the weights have ${got[0]} classes but the model was built for ${want[0]}: pass --classes ${got[0]}`);
    }
  }
  return hints;
}

function describeModel(model: Classifier): string {
  const m = model as Classifier & { inChannels?: number; numClasses?: number };
  const parts = [model.constructor.name];
  if (m.inChannels !== undefined) parts.push(`${m.inChannels} input channel(s)`);
  if (m.numClasses !== undefined) parts.push(`${m.numClasses} classes`);
  return parts.join(', ');
}

export interface MatchedWeights {
  /** Tensors in dfkd names, converted to the model's dtypes. */
  tensors: Map<string, NamedArray>;
  notes: string[];
  renames: Rename[];
}

/** The notes that say which prefixes and torchvision names the mapping changed. */
function mappingNotes(mapping: NameMapping): string[] {
  const notes: string[] = [];
  for (const [p, n] of mapping.stripped) notes.push(`stripped the '${p}' prefix from ${n} tensor name(s)`);
  const tv = mapping.renames.filter((r) => r.rule === 'torchvision');
  if (tv.length > 0) {
    const fc = tv.filter((r) => r.to.startsWith('linear.')).length;
    const ds = tv.length - fc;
    const parts = [fc > 0 ? `fc.* -> linear.* (${fc})` : '', ds > 0 ? `*.downsample.{0,1}.* -> *.shortcut.{0,1}.* (${ds})` : ''].filter(Boolean);
    notes.push(`renamed torchvision-style ResNet names to dfkd's CIFAR ResNet names: ${parts.join(', ')}`);
  }
  return notes;
}

/** The model's tensors matched one by one against the mapped source tensors. */
interface TensorMatch {
  out: Map<string, NamedArray>;
  /** Mis-shaped and wrongly typed tensors, in the model's order. */
  problems: string[];
  missing: string[];
  /** The source shape of each mis-shaped tensor. */
  mis: Map<string, number[]>;
  /** num_batches_tracked buffers the source lacks, filled with 0. */
  filled: number;
  /** Counts of dtype conversions, by 'written -> wanted'. */
  converted: Map<string, number>;
}

function matchTensors(
  expectedShape: Map<string, number[]>,
  expectedType: Map<string, STDType>,
  mapping: NameMapping,
  source: Record<string, NamedArray>,
  writtenDtypes: Map<string, string> | undefined,
): TensorMatch {
  const m: TensorMatch = { out: new Map(), problems: [], missing: [], mis: new Map(), filled: 0, converted: new Map() };
  const renamedFrom = (name: string): string => {
    const src = mapping.targets.get(name)!;
    return src !== name ? ` (from '${src}')` : '';
  };
  for (const [name, shape] of expectedShape) {
    const want = expectedType.get(name)!;
    const src = mapping.targets.get(name);
    if (src === undefined) {
      if (name.endsWith('num_batches_tracked')) {
        m.out.set(name, { dtype: 'I64', shape, data: new BigInt64Array(shape.reduce((a, b) => a * b, 1)) });
        m.filled++;
      } else m.missing.push(`missing tensor '${name}' (expected shape ${fmtShape(shape)})`);
      continue;
    }
    const a = source[src];
    if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
      m.problems.push(`tensor '${name}'${renamedFrom(name)} has shape ${fmtShape(a.shape)}, expected ${fmtShape(shape)}`);
      m.mis.set(name, a.shape);
      continue;
    }
    const written = writtenDtypes?.get(src) ?? a.dtype;
    const c = convert(a, want);
    if (!c) {
      m.problems.push(`tensor '${name}'${renamedFrom(name)} has dtype ${written}, expected ${want}`);
      continue;
    }
    if (written !== want) m.converted.set(`${written} -> ${want}`, (m.converted.get(`${written} -> ${want}`) ?? 0) + 1);
    m.out.set(name, c);
  }
  return m;
}

/** The error listing every problem of a state dict that does not fit the model, with hints at the likely cause. */
function mismatchError(
  c: { model: Classifier; arch: string; source: Record<string, NamedArray>; mapping: NameMapping; expectedShape: Map<string, number[]>; origin: string },
  problems: string[],
  counts: string,
  notes: string[],
  mis: Map<string, number[]>,
): DfkdError {
  const { model, arch, source, mapping, expectedShape } = c;
  const explain = stemExplanation(model, arch, new Map([...mapping.targets].map(([k, s]) => [k, source[s]])));
  const hints = [...(explain ? [explain] : []), ...shapeHints(mis, expectedShape)];
  const common = [...mapping.targets.keys()].filter((k) => expectedShape.has(k)).length;
  if (common === 0) hints.push(`none of the ${mapping.targets.size} tensor names is one of ${arch}'s: the weights are probably of another architecture (check --arch; 'dfkd models' lists them)`);
  return new DfkdError(
    `weights file '${c.origin}' does not match architecture '${arch}' (${describeModel(model)}): ` +
      `${problems.length} problem(s) (${counts}):\n  - ${problems.join('\n  - ')}` +
      (hints.length > 0 ? `\n${hints.map((h) => `hint: ${h}`).join('\n')}` : '') +
      (notes.length > 0 ? `\n(mapping applied before the check: ${notes.join('; ')})` : ''),
    'EWEIGHTS',
  );
}

/**
 * Maps and validates a decoded PyTorch state dict against `model`. Throws one DfkdError listing
 * every missing, unexpected, mis-shaped and wrongly typed tensor.
 */
export function matchStateDict(
  model: Classifier,
  arch: string,
  source: Record<string, NamedArray>,
  opts: { origin: string; writtenDtypes?: Map<string, string> },
): MatchedWeights {
  const expectedShape = new Map<string, number[]>();
  const expectedType = new Map<string, STDType>();
  for (const [k, t] of model.stateDict()) {
    expectedShape.set(k, t.shape);
    expectedType.set(k, ST_OF[t.dtype] ?? 'F32');
  }
  const mapping = mapNames(Object.keys(source), new Set(expectedShape.keys()));
  const notes = mappingNotes(mapping);
  const m = matchTensors(expectedShape, expectedType, mapping, source, opts.writtenDtypes);
  const unexpected: string[] = [];
  for (const [name, src] of mapping.targets) {
    if (!expectedShape.has(name)) {
      const a = source[src];
      unexpected.push(`unexpected tensor '${src}'${src !== name ? ` (as '${name}')` : ''} (shape ${fmtShape(a.shape)} dtype ${opts.writtenDtypes?.get(src) ?? a.dtype})`);
    }
  }
  const problems = [...mapping.collisions, ...m.problems, ...m.missing, ...unexpected];
  if (problems.length > 0) {
    const counts = `${m.missing.length} missing, ${unexpected.length} unexpected, ${problems.length - m.missing.length - unexpected.length} mis-shaped or mistyped`;
    throw mismatchError({ model, arch, source, mapping, expectedShape, origin: opts.origin }, problems, counts, notes, m.mis);
  }
  if (m.filled > 0) notes.push(`filled ${m.filled} missing num_batches_tracked buffer(s) with 0 (they only count training batches; older PyTorch versions do not save them)`);
  for (const [k, n] of m.converted) notes.push(`converted ${n} tensor(s) ${k}`);
  return { tensors: m.out, notes, renames: mapping.renames };
}

/** The model an import builds: architecture, dataset, channels, classes, checked before any file is read. */
interface ImportTarget {
  info: DatasetInfo;
  inChannels: number;
  numClasses: number;
  imageSize: number;
}

function importTarget(opts: ImportOptions): ImportTarget {
  const spec = getModel(opts.arch);
  if (spec.kind !== 'classifier') {
    throw new DfkdError(`'${opts.arch}' is a ${spec.kind}, not a classifier; importable architectures: ${listModelNames('classifier').join(', ')}`, 'EUSAGE');
  }
  const info = getDatasetInfo(opts.dataset);
  const inChannels = opts.inChannels ?? info.channels;
  if (!Number.isInteger(inChannels) || inChannels < 1) throw new DfkdError(`--channels must be a positive integer, got ${inChannels}`, 'EUSAGE');
  if (!channelNormalisation(info, inChannels)) {
    throw new DfkdError(`dataset '${opts.dataset}' has ${info.channels}-channel images (mean/std for ${info.mean.length} channels), but --channels is ${inChannels}`, 'EUSAGE');
  }
  const numClasses = opts.numClasses ?? info.classes;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new DfkdError(`the number of classes must be a positive integer (pass --classes K${info.classes === 0 ? `; dataset '${opts.dataset}' has no fixed class count` : ''}), got ${numClasses}`, 'EUSAGE');
  }
  return { info, inChannels, numClasses, imageSize: info.size };
}

/** Refuses an output directory that already holds a teacher, naming it. */
function refuseExistingTeacher(out: string): void {
  if (!fs.existsSync(path.join(out, TEACHER_RECORD))) return;
  let what = 'a teacher';
  try {
    const prev = readTeacherRecord(out) as unknown as { arch?: string; recipe?: { sourceFile?: string } };
    what = `a teacher (${prev.arch}${prev.recipe?.sourceFile ? ` imported from ${prev.recipe.sourceFile}` : ''})`;
  } catch {
    /* described generically */
  }
  throw new DfkdError(`output directory '${out}' already holds ${what}; choose another --out or delete it`, 'EEXIST');
}

/** Reads the source safetensors file: its tensors, SHA-256 and the dtypes its header declares. */
function readSourceWeights(file: string): { source: ReturnType<typeof decodeSafetensors>['tensors']; sourceSha256: string; writtenDtypes: ReturnType<typeof headerDtypes> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new DfkdError(`cannot read weights file '${file}': ${code === 'ENOENT' ? 'no such file' : code}`, code);
  }
  const sourceSha256 = crypto.createHash('sha256').update(buf).digest('hex');
  const { tensors: source } = decodeSafetensors(buf, file);
  checkWeightValues(source, file);
  if (Object.keys(source).length === 0) throw new DfkdError(`weights file '${file}' holds no tensors`, 'EWEIGHTS');
  return { source, sourceSha256, writtenDtypes: headerDtypes(buf) };
}

/** Test accuracy of the imported model, or undefined (with a warning) when the test split cannot be used. */
function importedTestAccuracy(model: Classifier, opts: ImportOptions, t: ImportTarget, warn: (m: string) => void): ReturnType<typeof evaluate> | undefined {
  let raw: RawImages | undefined;
  try {
    raw = loadDataset(opts.dataset, 'test', { path: opts.dataPath, channels: t.inChannels === 1 ? 1 : 3 });
  } catch (e) {
    warn(`test accuracy not measured (recorded as null): the ${opts.dataset} test split cannot be loaded: ${(e as Error).message}`);
    return undefined;
  }
  if (raw.channels !== t.inChannels || raw.height !== t.imageSize || raw.width !== t.imageSize) {
    warn(`test accuracy not measured (recorded as null): dataset '${opts.dataset}' gives ${raw.channels}x${raw.height}x${raw.width} images, the model takes ${t.inChannels}x${t.imageSize}x${t.imageSize}`);
    return undefined;
  }
  const data = toTensors(raw, channelNormalisation(t.info, t.inChannels)!);
  try {
    return evaluate(model, data, t.numClasses);
  } finally {
    disposeTensors(data);
  }
}

/** Writes the teacher directory (weights with PyTorch names + teacher.json). */
function writeImportedTeacher(model: Classifier, opts: ImportOptions, t: ImportTarget, src: { sourceSha256: string; notes: string[]; acc: ReturnType<typeof evaluate> | undefined; t0: number }): ImportedTeacherRecord {
  fs.mkdirSync(opts.out, { recursive: true });
  const wfile = path.join(opts.out, TEACHER_WEIGHTS);
  const { sourceSha256, acc } = src;
  saveModule(wfile, model, { arch: opts.arch, dataset: opts.dataset, format: 'pt', importedFrom: path.basename(opts.weights), importedSha256: sourceSha256 });
  const recipe: ImportRecipe = { imported: true, sourceFile: path.resolve(opts.weights), sourceSha256, mappings: src.notes };
  const { numClasses, inChannels, imageSize } = t;
  const record: ImportedTeacherRecord = {
    kind: 'dfkd-teacher',
    recipe,
    recipeHash: contentHash({ arch: opts.arch, dataset: opts.dataset, numClasses, inChannels, sourceSha256 }),
    arch: opts.arch,
    dataset: opts.dataset,
    numClasses,
    inChannels,
    imageSize,
    parameters: model.numParameters(),
    ...importedTail(acc, src.t0, TEACHER_WEIGHTS, wfile),
  };
  writeJsonAtomic(path.join(opts.out, TEACHER_RECORD), record);
  return record;
}

/** Imports a PyTorch state dict (safetensors) as a dfkd teacher directory. */
export function importTeacher(opts: ImportOptions): ImportResult {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    (opts.onWarn ?? ((x: string) => process.stderr.write(`warning: ${x}\n`)))(m);
  };
  const t0 = nowSeconds();
  const t = importTarget(opts);
  checkOutputDir(opts.out);
  refuseExistingTeacher(opts.out);
  assertOwnOrEmpty(opts.out, () => false, 'a dfkd teacher');
  const { source, sourceSha256, writtenDtypes } = readSourceWeights(opts.weights);
  const model = buildModel(opts.arch, { inChannels: t.inChannels, numClasses: t.numClasses, imageSize: t.imageSize });
  try {
    const matched = matchStateDict(model, opts.arch, source, { origin: opts.weights, writtenDtypes });
    const notes = [...matched.notes];
    if (notes.length === 0) notes.push('names, shapes and dtypes matched as they were');
    const loaded = new Map<string, Tensor>();
    try {
      for (const [k, a] of matched.tensors) loaded.set(k, fromNamedArray(a));
      model.loadStateDict(loaded, { origin: opts.weights });
    } finally {
      for (const x of loaded.values()) x.dispose();
    }
    model.eval();
    if (t.info.classes > 0 && t.numClasses !== t.info.classes) {
      throw new DfkdError(`weights file '${opts.weights}' is a ${t.numClasses}-class model but dataset '${opts.dataset}' has ${t.info.classes} classes`, 'ECLASSES');
    }
    const acc = opts.testAccuracy !== false ? importedTestAccuracy(model, opts, t, warn) : undefined;
    const record = writeImportedTeacher(model, opts, t, { sourceSha256, notes, acc, t0 });
    return { record, dir: opts.out, notes, renames: matched.renames, warnings };
  } finally {
    model.dispose();
  }
}

/**
 * `dfkd distill`: one run, from its options to summary.json. The run directory's layout is in
 * src/io/run-dir.ts; the loop is src/distill/trainer.ts and everything around it is a callback
 * (src/distill/callbacks/). Real data is used only to report test accuracy: never to train, select or stop.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { Device, Tensor, manualSeed, resolveDevice } from '../tensor';
import { CosineLR, ConstantLR, LRScheduler } from '../optim';
import { buildModel, getModel } from '../models';
import { defaultStudentFor } from '../models/family';
import type { Classifier } from '../models/registry';
import { loadTeacher, TeacherRecord } from '../train/teacher';
import { datasetInfoForModel, loadCheckedSplit } from '../data/registry';
import { checkOutputDir } from '../io/safe-out';
import { requireRunRecord } from '../io/records';
import { toTensors, disposeTensors } from '../data/tensors';
import type { RawImages } from '../data/raw';
import { sha256File } from '../io/weights';
import { writeJsonAtomic } from '../io/atomic';
import { readJson } from '../io/json';
import { checkRunDir, finishCleanup, prepareRunDir, runPaths, runIdentityHash, RunDirState, hasRun, RUN_FILES } from '../io/run-dir';
import { saveStudent } from '../io/model-dir';
import { versions, Versions } from '../versions';
import { DistillConfig, resolveConfig, PartialConfig, identityView, identityExtrasOf, pruneToRecorded } from './config';
import { Normalizer } from './synthesizer';
import { createMethod } from './methods';
import type { DistillMethod } from './method';
import type { TrustSignals } from './signals';
import { train, TrainContext, TrainState, Callback, EvalPoint, elapsed, deliveredStudent } from './trainer';
import { StudentEma } from './student-ema';
import * as C from './callbacks';
import { hasBatchNorm } from './bn-hook';
import { teacherProbe } from './probe-trust';
import { definedOnly } from './probe';
import type { AnchorImageRequest } from './anchors';
import { cpuHasBf16 } from './precision';

export type { EvalPoint } from './trainer';
export { NumericalFault } from './callbacks';

export interface DistillSummary {
  kind: 'dfkd-distill-summary';
  method: string;
  teacher: { dir: string; arch: string; testAccuracy: number; parameters: number; weightsSha256: string };
  student: { arch: string; parameters: number };
  dataset: string;
  /** Headline: student test accuracy at the end of training. */
  finalAccuracy: number;
  /** Mean test accuracy of the last k evaluations. */
  lastKMean: number;
  lastK: number;
  /** Device of the (last part of the) run: 'cpu', 'cuda', 'cuda:N'. */
  device?: string;
  /**
   * With `studentEma`: the decay, and the final accuracy of the student's own last weights (the headline
   * `finalAccuracy` is the average's, which is the delivered student).
   */
  studentEma?: { decay: number; rawFinalAccuracy: number };
  /** Extra, NOT a data-free figure: the best test accuracy over training selects with the test set. */
  bestOverTraining: { accuracy: number; iteration: number; note: string };
  /** Student accuracy as a fraction of the teacher's. */
  relativeAccuracy: number;
  compression: number;
  iterations: number;
  wallTimeSec: number;
  seed: number;
  configHash: string;
  selectionRate: number[];
  signals?: TrustSignals;
  /** Every evaluation at which the collapse detector fired, with its reasons. */
  collapseWarnings?: { iteration: number; reasons: string[] }[];
  /** Set when the data-free stopping rule (--stop-when-stable) ended the run before `iterations`. */
  stoppedEarly?: { iteration: number; reason: string };
  /** Iterations actually run (less than `iterations` when stopped early). */
  iterationsRun?: number;
  versions: Versions;
  finishedAt: string;
}

export interface DistillOptions {
  teacherDir: string;
  /** Student architecture; default: the small student of the teacher's family (`defaultStudentFor`). */
  studentArch?: string;
  method: string;
  /** User config (parsed JSON of --config), then CLI overrides. */
  userConfig?: unknown;
  overrides?: PartialConfig;
  out: string;
  dataPath?: string;
  /** Continue an unfinished run in `out` (its config must match). */
  resume?: boolean;
  /**
   * 'cpu' (default), 'cuda' or 'cuda:N'. Not part of the run's identity (configHash): a run may be
   * resumed on another device. Recorded in config.json (the latest start) and summary.json.
   */
  device?: string;
  onProgress?: (p: C.ProgressEvent) => void;
  onEval?: (e: EvalPoint) => void;
  onWarn?: (msg: string) => void;
  /** Polled after every iteration; when true the run checkpoints and stops (resumable). */
  shouldStop?: () => boolean;
  /** Test hook: called after every iteration (after its checkpoint). */
  afterIteration?: (iteration: number) => void;
  /** Identity-only config fields recorded with the run being continued (config.json's identityExtras). */
  identityExtras?: Record<string, unknown>;
  /**
   * Set by resumeOptions: `userConfig` is the complete config recorded by the run being continued. Fields
   * that later versions added with a default (memoryFormat, tadfkd) are then left out unless the record
   * has them, so a run resumes exactly as it started.
   */
  recordedConfig?: boolean;
  /** Test hook: inject a NaN into a loss term or the student's weights (never set by the CLI). */
  faults?: C.FaultSpec;
}

export interface DistillResult {
  summary?: DistillSummary;
  stopped: boolean;
  iteration: number;
}

/** The identity of a run: its effective config (as hashed by identityView), the teacher's weights and the student architecture. */
export function runConfigHash(cfg: DistillConfig, teacherSha: string, student: string): string {
  return runIdentityHash(identityView(cfg), teacherSha, student);
}

/** Builds the effective config for a run. */
export function distillConfigFor(opts: Pick<DistillOptions, 'method' | 'userConfig' | 'overrides' | 'identityExtras' | 'recordedConfig'>, dataset: string): DistillConfig {
  const cfg = resolveConfig(opts.method, dataset, opts.userConfig ?? {}, opts.overrides ?? {}, opts.identityExtras);
  if (opts.recordedConfig) pruneToRecorded(cfg, opts.userConfig, opts.overrides ?? {});
  return cfg;
}

/**
 * The options that continue the run recorded in `dir` (`dfkd distill --resume DIR`): its teacher, student,
 * method and config; `onNan` may change the NaN policy (not part of the run's identity).
 */
export function resumeOptions(dir: string, o: { onNan?: 'stop' | 'rollback'; dataPath?: string; device?: string } = {}): DistillOptions {
  if (!hasRun(dir)) throw new DfkdError(`--resume ${dir}: no ${RUN_FILES.config} there (not a dfkd run directory)`, 'EUSAGE');
  // Runs made before per-method configs recorded every field of every method (and `adversarial`): resolving
  // such a config gives the same config and identity (configHash) as it had.
  const saved = readJson(runPaths(dir).config, 'run record file', 'ECONFIG') as {
    config: PartialConfig & { method: string };
    identityExtras?: Record<string, unknown>;
    teacher: { dir: string };
    student: string;
  };
  requireRunRecord(saved, runPaths(dir).config);
  return {
    teacherDir: saved.teacher.dir,
    studentArch: saved.student,
    method: saved.config.method,
    userConfig: saved.config,
    identityExtras: saved.identityExtras,
    recordedConfig: true,
    overrides: o.onNan ? { nan: { policy: o.onNan } } : {},
    out: dir,
    resume: true,
    dataPath: o.dataPath,
    device: o.device,
  };
}

/** The options of a run whose student is settled (given, or the teacher family's default). */
type ResolvedOptions = DistillOptions & { studentArch: string };

/** A run's student: the one given, else the small student of the teacher's family. Part of the run's identity. */
export function studentArchOf(o: Pick<DistillOptions, 'studentArch'>, teacherArch: string): string {
  return o.studentArch ?? defaultStudentFor(teacherArch);
}

interface RunPlan {
  cfg: DistillConfig;
  configHash: string;
  dir: RunDirState;
}

/**
 * A teacher without BatchNorm (e.g. an ONNX graph whose BatchNorms the exporter folded) has no
 * statistics to match: the BN-statistics term is switched off (weights.bn 0, recorded in the run's
 * config) with a warning, and the distillation proceeds on its other terms. TA-DFKD's anchors, inverted by
 * matching those statistics, are switched off the same way (tadfkd.anchors false).
 */
function bnPriorOffWithoutBatchNorm(cfg: DistillConfig, teacher: Classifier, teacherDir: string, warn: (m: string) => void): DistillConfig {
  if (hasBatchNorm(teacher)) return cfg;
  let out = cfg;
  if (cfg.weights.bn !== 0) {
    warn(`teacher '${teacherDir}' has no BatchNorm layers: ${cfg.method}'s BN-statistics prior is off (weights.bn ${cfg.weights.bn} -> 0); the generator is trained by the other terms only`);
    out = { ...out, weights: { ...out.weights, bn: 0 } } as DistillConfig;
  }
  const ta = (out as { tadfkd?: Record<string, unknown> }).tadfkd;
  if (ta?.anchors) {
    warn(`teacher '${teacherDir}' has no BatchNorm layers: TA-DFKD's anchors (images inverted by matching BN statistics) are off (tadfkd.anchors -> false)`);
    out = { ...out, tadfkd: { ...ta, anchors: false } } as DistillConfig;
  }
  return out;
}

/** The effective config, the run's identity, and what the output directory holds (new, this run unfinished, finished). */
function planRun(opts: ResolvedOptions, tRec: TeacherRecord, teacher: Classifier): RunPlan {
  getModel(opts.studentArch);
  const warn = opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const cfg = bnPriorOffWithoutBatchNorm(distillConfigFor(opts, tRec.dataset), teacher, opts.teacherDir, warn);
  if (cfg.precision === 'bf16-forwards' && cpuHasBf16() === false) {
    warn("precision 'bf16-forwards': this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag in /proc/cpuinfo); it is emulated and may be slower than float32");
  }
  const configHash = runConfigHash(cfg, tRec.weightsSha256, opts.studentArch);
  const dir = checkRunDir(opts.out, configHash, opts.resume ?? false);
  return { cfg, configHash, dir };
}

/** Runs (or resumes) a distillation. Yields to the event loop between iterations so signals are handled. */
export async function runDistill(given: DistillOptions): Promise<DistillResult> {
  const device = resolveDevice(given.device); // fails at once on a CPU-only build asked for CUDA
  checkOutputDir(given.out);
  const { model: teacher, record: tRec } = loadTeacher(given.teacherDir);
  const opts: ResolvedOptions = { ...given, studentArch: studentArchOf(given, tRec.arch) };
  try {
    const plan = planRun(opts, tRec, teacher);
    if (plan.dir.kind === 'finished') {
      finishCleanup(opts.out);
      return { summary: readJson(runPaths(opts.out).summary, 'run summary', 'ERECORD') as DistillSummary, stopped: false, iteration: plan.cfg.iterations };
    }
    const testRaw = loadCheckedSplit(tRec.dataset, 'test', tRec, `teacher '${opts.teacherDir}'`, opts.dataPath);
    // Everything is validated: from here on the run directory is written.
    prepareRunDir(opts.out);
    const runConfig = { config: plan.cfg, teacher: { dir: path.resolve(opts.teacherDir), weightsSha256: tRec.weightsSha256, arch: tRec.arch }, student: opts.studentArch, dataset: tRec.dataset };
    const identityExtras = identityExtrasOf(plan.cfg);
    writeJsonAtomic(runPaths(opts.out).config, { ...runConfig, identityExtras, configHash: plan.configHash, device, versions: versions() });
    return await trainAndFinish(opts, { teacher, tRec, plan, testRaw, device });
  } finally {
    teacher.dispose();
  }
}

interface RunInputs {
  teacher: Classifier;
  tRec: TeacherRecord;
  plan: RunPlan;
  testRaw: RawImages;
  device: string;
}

function scheduler(method: DistillMethod, cfg: DistillConfig): LRScheduler {
  return cfg.student.schedule === 'cosine' ? new CosineLR(method.studentOpt, cfg.iterations) : new ConstantLR(method.studentOpt);
}

/** The callbacks of a run, in the order they run at each point. */
function callbacksFor(opts: DistillOptions, resumingRun: boolean): Callback[] {
  const cbs: Callback[] = [];
  if (opts.faults) cbs.push(new C.FaultInjection(opts.faults));
  cbs.push(new C.NanGuard(), new C.StudentEmaUpdate());
  if (opts.onProgress) cbs.push(new C.Progress(opts.onProgress));
  cbs.push(new C.SampleGrids(), new C.Evaluation(), new C.CollapseDetector(), new C.EvalLog(opts.onEval), new C.EarlyStop());
  cbs.push(new C.Checkpoints(opts.resume ?? false, resumingRun));
  if (opts.afterIteration) cbs.push(new C.AfterIteration(opts.afterIteration));
  if (opts.shouldStop) cbs.push(new C.StopRequest(opts.shouldStop));
  return cbs;
}

/** Builds the student and the method, trains, and writes the student and summary (unless stopped). */
async function trainAndFinish(opts: ResolvedOptions, r: RunInputs): Promise<DistillResult> {
  const { cfg } = r.plan;
  const info = datasetInfoForModel(r.tRec.dataset, r.tRec.inChannels);
  const test = toTensors(r.testRaw, info);
  const shape = { inChannels: r.tRec.inChannels, numClasses: r.tRec.numClasses, imageSize: r.tRec.imageSize };
  // The average's model is built before the seed is set: its initialisation is overwritten with the
  // student's, and the run's random stream stays the one of a run without it.
  const emaModel = cfg.studentEma ? buildModel(opts.studentArch, shape) : undefined;
  manualSeed(cfg.seed);
  const student = buildModel(opts.studentArch, shape);
  const ema = emaModel && cfg.studentEma ? new StudentEma(emaModel, cfg.studentEma.decay, student) : undefined;
  // Models are built and initialised on the CPU (same initial weights on every device), then moved
  // before any optimiser exists. Test data stays on the CPU; evaluate() moves each batch.
  const onDevice: Device | undefined = r.device === 'cpu' ? undefined : (r.device as Device);
  let method: DistillMethod | undefined;
  let norm: Normalizer | undefined;
  try {
    if (onDevice) {
      r.teacher.to(onDevice);
      student.to(onDevice);
      ema?.model.to(onDevice);
    }
    norm = new Normalizer(info.mean, info.std, onDevice);
    const tr = r.tRec;
    const warn = opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    // Inverted teacher images (TA-DFKD's anchors) are cached beside the teacher, else in the run directory.
    const teacherImages = (o: AnchorImageRequest): Tensor => {
      const p = teacherProbe({ model: r.teacher, record: tr, dir: opts.teacherDir }, { ...definedOnly(o), device: onDevice }, warn, opts.out, 'anchors');
      return onDevice ? p.probe.to(onDevice) : p.probe;
    };
    method = createMethod(cfg.method, { teacher: r.teacher, student, cfg, norm, numClasses: tr.numClasses, channels: tr.inChannels, imageSize: tr.imageSize, contentSize: info.contentSize, device: onDevice, teacherImages });
    const ctx: TrainContext = { cfg, runDir: opts.out, configHash: r.plan.configHash, teacher: r.teacher, student, ema, method, sched: scheduler(method, cfg), test, numClasses: tr.numClasses, device: onDevice, warn };
    const s = await train(ctx, callbacksFor(opts, r.plan.dir.kind === 'resume'));
    if (s.exit?.kind === 'stopped') return { stopped: true, iteration: s.iteration };
    const summary = finishRun(ctx, s, opts, r);
    return { summary, stopped: false, iteration: summary.iterationsRun ?? cfg.iterations };
  } finally {
    method?.dispose();
    ema?.dispose();
    norm?.dispose();
    student.dispose();
    disposeTensors(test);
  }
}

/** Writes the final student and summary.json, then removes the checkpoints (no longer needed). */
function finishRun(c: TrainContext, s: TrainState, opts: ResolvedOptions, r: RunInputs): DistillSummary {
  saveStudent(opts.out, deliveredStudent(c), { arch: opts.studentArch, dataset: r.tRec.dataset, numClasses: r.tRec.numClasses, inChannels: r.tRec.inChannels, imageSize: r.tRec.imageSize }, { method: c.cfg.method });
  if (sha256File(path.join(opts.teacherDir, r.tRec.weightsFile)) !== r.tRec.weightsSha256) {
    throw new DfkdError('internal error: the teacher weights file changed during distillation', 'EINTERNAL');
  }
  const summary = summarize(s.history, c, opts, r, elapsed(s));
  if (s.exit?.kind === 'early') summary.stoppedEarly = s.exit.stop;
  const last = s.history[s.history.length - 1];
  if (c.ema && last.rawAccuracy !== undefined) summary.studentEma = { decay: c.ema.decay, rawFinalAccuracy: last.rawAccuracy };
  const p = runPaths(opts.out);
  writeJsonAtomic(p.summary, summary);
  fs.rmSync(p.checkpoints, { recursive: true, force: true });
  return summary;
}

function summarize(history: EvalPoint[], c: TrainContext, opts: ResolvedOptions, r: RunInputs, wall: number): DistillSummary {
  const { cfg } = c;
  const tRec = r.tRec;
  const last = history[history.length - 1];
  const k = Math.min(cfg.eval.lastK, history.length);
  const lastK = history.slice(-k);
  let best = history[0];
  for (const h of history) if (h.testAccuracy > best.testAccuracy) best = h;
  const tp = c.teacher.numParameters();
  const sp = c.student.numParameters();
  return {
    kind: 'dfkd-distill-summary',
    method: cfg.method,
    teacher: { dir: path.resolve(opts.teacherDir), arch: tRec.arch, testAccuracy: tRec.testAccuracy, parameters: tp, weightsSha256: tRec.weightsSha256 },
    student: { arch: opts.studentArch, parameters: sp },
    dataset: tRec.dataset,
    device: r.device,
    finalAccuracy: last.testAccuracy,
    lastKMean: lastK.reduce((a, h) => a + h.testAccuracy, 0) / k,
    lastK: k,
    bestOverTraining: { accuracy: best.testAccuracy, iteration: best.iteration, note: 'selected with the test set: not a data-free figure' },
    relativeAccuracy: last.testAccuracy / tRec.testAccuracy,
    compression: tp / sp,
    iterations: cfg.iterations,
    wallTimeSec: wall,
    seed: cfg.seed,
    configHash: c.configHash,
    selectionRate: history.map((h) => h.selectionRate),
    signals: last.signals,
    collapseWarnings: history.filter((h) => h.collapse?.length).map((h) => ({ iteration: h.iteration, reasons: h.collapse! })),
    iterationsRun: last.iteration,
    versions: versions(),
    finishedAt: new Date().toISOString(),
  };
}

export { loadStudent } from '../io/model-dir';

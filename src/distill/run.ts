/**
 * `dfkd distill`: the trainer loop shared by every method, with its run directory:
 *   config.json       the effective, validated config (plus teacher, student, dataset)
 *   log.jsonl         one line per evaluation: iteration, mean losses, selection rate, test accuracy, time
 *   samples/*.png     grids of synthetic samples (TA-DFKD: green = selected, red = rejected)
 *   checkpoints/      atomic checkpoints + latest.json (resume with --resume)
 *   student.safetensors + student.json   the final student (PyTorch names) and its record
 *   summary.json      final accuracy (headline), last-k mean, best-over-training (test-selected, labelled),
 *                     teacher accuracy, parameter counts, compression, wall time, seed, versions
 * Real data is used only to report test accuracy: never to train, select or stop.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { Tensor, Device, manualSeed, getRngState, setRngState, tensor, tidy, noGrad, resolveDevice } from '../tensor';
import { CosineLR, ConstantLR, LRScheduler } from '../optim';
import { buildModel, getModel } from '../models';
import type { Classifier } from '../models/registry';
import { loadTeacher, TeacherRecord } from '../train/teacher';
import { evaluate } from '../train/evaluate';
import { getDatasetInfo, loadDataset, checkClassCount } from '../data/registry';
import { toTensors, disposeTensors, DatasetTensors } from '../data/tensors';
import { saveModule, loadModule, sha256File } from '../io/weights';
import { writeJsonAtomic, writeFileAtomic, removeStaleTemps } from '../io/atomic';
import { readJson } from '../io/json';
import { savePngGrid } from '../io/png';
import { versions, Versions } from '../versions';
import { contentHash, nowSeconds } from '../util';
import { DistillConfig, resolveConfig, parseConfig, PartialConfig } from './config';
import { Normalizer } from './synthesizer';
import { createMethod, TADFKD } from './methods';
import { GeneratorMethod, type DistillMethod, type StepLog } from './method';
import { saveCheckpoint, loadLatestCheckpoint, latestCheckpointInfo } from './checkpoint';
import { computeSignals, collapseReasons, TrustSignals } from './signals';
import { stableStop, StableStop } from './stopping';

export interface EvalPoint {
  iteration: number;
  time: number;
  testAccuracy: number;
  selectionRate: number;
  losses: Record<string, number>;
  signals?: TrustSignals;
  lr: number;
  /** Reasons the collapse detector gave at this evaluation (absent when it did not fire). */
  collapse?: string[];
}

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
  studentArch: string;
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
  onProgress?: (p: { iteration: number; iterations: number; log: StepLog; selectionRate: number }) => void;
  onEval?: (e: EvalPoint) => void;
  onWarn?: (msg: string) => void;
  /** Polled after every iteration; when true the run checkpoints and stops (resumable). */
  shouldStop?: () => boolean;
  /** Test hook: called after every iteration (e.g. to inject faults). */
  afterIteration?: (iteration: number) => void;
}

export interface DistillResult {
  summary?: DistillSummary;
  stopped: boolean;
  iteration: number;
}

const STUDENT_WEIGHTS = 'student.safetensors';
const STUDENT_RECORD = 'student.json';

function meanLogs(logs: StepLog[]): Record<string, number> {
  const acc: Record<string, { s: number; n: number }> = {};
  for (const l of logs) for (const [k, v] of Object.entries(l)) (acc[k] ??= { s: 0, n: 0 }), (acc[k].s += v), (acc[k].n += 1);
  return Object.fromEntries(Object.entries(acc).map(([k, { s, n }]) => [k, s / n]));
}

/** A non-finite loss term or weight (code 'ENAN'); `what` names the term or tensor. */
export class NumericalFault extends DfkdError {
  constructor(message: string, readonly what: string, readonly iteration: number) {
    super(message, 'ENAN');
  }
}

/** The stop message: what went wrong, where, and the last good checkpoint to continue from. */
function faultMessage(what: string, iteration: number, runDir: string, cfg: DistillConfig, prefix = ''): string {
  const ck = latestCheckpointInfo(runDir);
  const where = ck
    ? `The last good checkpoint is '${ck.file}' (iteration ${ck.iteration}); continue from it with 'dfkd distill --resume ${runDir} --on-nan rollback' (restores it and lowers the learning rate)`
    : `No checkpoint had been written yet (the first is at iteration ${cfg.checkpointEvery}); rerun with a lower learning rate`;
  return `${prefix}non-finite ${what} at iteration ${iteration}; the run stopped. ${where}`;
}

function checkFinite(log: StepLog, iteration: number, step: string, runDir: string, cfg: DistillConfig): void {
  for (const [k, v] of Object.entries(log)) {
    if (!Number.isFinite(v)) {
      const what = `${step} loss term '${k}' (${v})`;
      throw new NumericalFault(faultMessage(what, iteration, runDir, cfg), what, iteration);
    }
  }
}

/** One isfinite().all() reduction per floating-point tensor of the student and the synthesizer. */
function checkWeights(student: Classifier, method: DistillMethod, iteration: number, runDir: string, cfg: DistillConfig): void {
  const sets: [string, Map<string, Tensor>][] = [['student', student.stateDict()], ['synthesizer', method.synthState()]];
  for (const [owner, tensors] of sets) {
    for (const [name, t] of tensors) {
      if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
      const ok = tidy(() => t.isfinite().all());
      if (!ok) {
        const what = `${owner} weights in tensor '${name}'`;
        throw new NumericalFault(faultMessage(what, iteration, runDir, cfg), what, iteration);
      }
    }
  }
}

/**
 * TEST HOOK (fault injection, not for normal use): `DFKD_TEST_INJECT_NAN=ITER[:TERM[:TIMES]]`
 * replaces the loss term TERM (default loss_s) of the first student step of iteration ITER with NaN,
 * TIMES times per process (default 1; a rollback replays the iteration); TERM 'weights' instead
 * fills the student's first parameter with NaN after that iteration's steps. Used by
 * test/reliability.test.ts.
 */
function nanInjection(): { iteration: number; term: string; left: number } | undefined {
  const spec = process.env.DFKD_TEST_INJECT_NAN;
  if (!spec) return undefined;
  const [it, term, times] = spec.split(':');
  return { iteration: Number(it), term: term || 'loss_s', left: times ? Number(times) : 1 };
}

function scheduler(method: DistillMethod, cfg: DistillConfig): LRScheduler {
  return cfg.student.schedule === 'cosine' ? new CosineLR(method.studentOpt, cfg.iterations) : new ConstantLR(method.studentOpt);
}

/** The identity of a run: its effective config, the teacher's weights and the student architecture. */
export function runConfigHash(cfg: DistillConfig, teacherSha: string, student: string): string {
  // The NaN policy is not part of a run's identity: `--resume DIR --on-nan rollback` continues the same run.
  const { nan: _nan, ...config } = cfg;
  return contentHash({ config, teacherSha, student });
}

/** Builds the effective config for a run. */
export function distillConfigFor(opts: Pick<DistillOptions, 'method' | 'userConfig' | 'overrides'>, dataset: string): DistillConfig {
  return resolveConfig(opts.method, dataset, opts.userConfig ?? {}, opts.overrides ?? {});
}

/** Runs (or resumes) a distillation. Yields to the event loop between iterations so signals are handled. */
export async function runDistill(opts: DistillOptions): Promise<DistillResult> {
  const warn = opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const device = resolveDevice(opts.device); // fails at once on a CPU-only build asked for CUDA
  const t0 = nowSeconds();
  const { model: teacher, record: tRec } = loadTeacher(opts.teacherDir);
  getModel(opts.studentArch);
  const cfg = distillConfigFor(opts, tRec.dataset);
  const info = getDatasetInfo(tRec.dataset);
  const runConfig = { config: cfg, teacher: { dir: path.resolve(opts.teacherDir), weightsSha256: tRec.weightsSha256, arch: tRec.arch }, student: opts.studentArch, dataset: tRec.dataset };
  const configHash = runConfigHash(cfg, tRec.weightsSha256, opts.studentArch);

  // Output directory: new, or the same run (resume), never a different run.
  const cfgFile = path.join(opts.out, 'config.json');
  if (fs.existsSync(cfgFile)) {
    let prev: { configHash?: string };
    try {
      prev = readJson(cfgFile, 'run record', 'ERECORD', 'choose another --out') as { configHash?: string };
    } catch (e) {
      teacher.dispose();
      throw e;
    }
    if (prev.configHash !== configHash) {
      teacher.dispose();
      throw new DfkdError(`output directory '${opts.out}' already holds a different run (config hash ${prev.configHash}, this run ${configHash}); choose another --out`, 'EEXIST');
    }
    const sumFile = path.join(opts.out, 'summary.json');
    if (fs.existsSync(sumFile)) {
      teacher.dispose();
      // A run killed between its summary and the clean-up: finish the clean-up.
      fs.rmSync(path.join(opts.out, 'checkpoints'), { recursive: true, force: true });
      for (const d of [opts.out, path.join(opts.out, 'samples')]) removeStaleTemps(d);
      return { summary: JSON.parse(fs.readFileSync(sumFile, 'utf8')) as DistillSummary, stopped: false, iteration: cfg.iterations };
    }
    if (!opts.resume) {
      teacher.dispose();
      throw new DfkdError(`output directory '${opts.out}' holds an unfinished run of this config; continue it with --resume or choose another --out`, 'EEXIST');
    }
  } else if (fs.existsSync(opts.out) && fs.readdirSync(opts.out).length > 0) {
    teacher.dispose();
    throw new DfkdError(`output directory '${opts.out}' is not empty and holds no dfkd run; choose another --out`, 'EEXIST');
  }
  const testRaw = loadDataset(tRec.dataset, 'test', { path: opts.dataPath });
  if (testRaw.channels !== tRec.inChannels || testRaw.height !== tRec.imageSize) {
    teacher.dispose();
    throw new DfkdError(`dataset '${tRec.dataset}' gives ${testRaw.channels}x${testRaw.height} images but teacher '${opts.teacherDir}' expects ${tRec.inChannels}x${tRec.imageSize}`, 'ESHAPE');
  }
  try {
    checkClassCount(tRec, `teacher '${opts.teacherDir}'`, tRec.dataset, info.classes, testRaw.labels);
  } catch (e) {
    teacher.dispose();
    throw e;
  }
  // Everything is validated: from here on the run directory is written.
  fs.mkdirSync(path.join(opts.out, 'samples'), { recursive: true });
  // Temporary files of writes interrupted by a crash (the targets themselves are intact).
  for (const d of [opts.out, path.join(opts.out, 'samples'), path.join(opts.out, 'checkpoints')]) removeStaleTemps(d);
  writeJsonAtomic(cfgFile, { ...runConfig, configHash, device, versions: versions() });

  const test = toTensors(testRaw, info);

  manualSeed(cfg.seed);
  const student = buildModel(opts.studentArch, { inChannels: tRec.inChannels, numClasses: tRec.numClasses, imageSize: tRec.imageSize });
  // Models are built and initialised on the CPU (same initial weights on every device), then moved
  // before any optimiser exists. Test data stays on the CPU; evaluate() moves each batch.
  const onDevice: Device | undefined = device === 'cpu' ? undefined : device;
  if (onDevice) {
    teacher.to(onDevice);
    student.to(onDevice);
  }
  const norm = new Normalizer(info.mean, info.std, onDevice);
  const method = createMethod(cfg.method, { teacher, student, cfg, norm, numClasses: tRec.numClasses, channels: tRec.inChannels, imageSize: tRec.imageSize, contentSize: info.contentSize, device: onDevice });
  const sched = scheduler(method, cfg);
  const teacherShaBefore = tRec.weightsSha256;

  let start = 0;
  let history: EvalPoint[] = [];
  let elapsedBefore = 0;
  // --on-nan rollback state: rollbacks so far and the factor applied to every learning rate.
  let rollbacks = 0;
  let lrScale = 1;
  const applyLrScale = (): void => {
    if (lrScale === 1) return;
    method.studentOpt.lr = sched.lrAt(sched.lastEpoch) * lrScale;
    if (method instanceof GeneratorMethod) method.synth.optimizer.lr = cfg.generator.lr * lrScale;
  };
  const ckpt = opts.resume ? loadLatestCheckpoint(opts.out, warn) : undefined;
  if (ckpt) {
    try {
      restore(ckpt.tensors, ckpt.meta, student, method, sched, onDevice, warn);
      start = ckpt.iteration;
      history = (ckpt.meta.history as EvalPoint[]) ?? [];
      elapsedBefore = Number(ckpt.meta.elapsed ?? 0);
      rollbacks = Number(ckpt.meta.nanRollbacks ?? 0);
      lrScale = Number(ckpt.meta.lrScale ?? 1);
      applyLrScale();
      // Drop log lines written after the checkpoint (they will be recomputed identically).
      writeLog(opts.out, history);
    } finally {
      for (const t of ckpt.tensors.values()) t.dispose();
    }
  } else {
    writeLog(opts.out, history);
  }

  const saveCk = (iteration: number, elapsed: number): void => {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of student.stateDict()) tensors.set(`student.${k}`, t);
    const optS = method.studentOpt.stateDict();
    for (const [k, t] of optS.tensors) tensors.set(`optS.${k}`, t);
    for (const [k, t] of method.synthState()) tensors.set(`synth.${k}`, t);
    const rng = tensor(getRngState(), undefined, 'uint8');
    tensors.set('rng', rng);
    // On a GPU the CUDA generator (noise, pool indices) is saved too; CPU checkpoints are unchanged.
    const rngCuda = onDevice ? tensor(getRngState(onDevice), undefined, 'uint8') : undefined;
    if (rngCuda) tensors.set('rng_cuda', rngCuda);
    try {
      const nanState = rollbacks > 0 ? { nanRollbacks: rollbacks, lrScale } : {};
      saveCheckpoint(opts.out, iteration, tensors, { iteration, optS: optS.meta, synth: method.synthMeta(), sched: sched.stateDict(), history, elapsed, configHash, ...nanState });
    } finally {
      rng.dispose();
      rngCuda?.dispose();
    }
  };

  let pending: StepLog[] = [];
  let lastStudentLog: StepLog = {};
  let stopped = false;
  let earlyStop: StableStop | undefined;
  let iteration = start;
  const clock0 = nowSeconds();
  const elapsed = (): number => elapsedBefore + (nowSeconds() - clock0);
  const inject = nanInjection();

  /** --on-nan rollback: restore the last checkpoint, lower the learning rates; the iteration to continue after, or undefined to stop. */
  const rollback = (fault: NumericalFault): number | undefined => {
    const policy = cfg.nan;
    if (!policy || policy.policy !== 'rollback') return undefined;
    if (rollbacks >= policy.maxRollbacks) {
      throw new NumericalFault(faultMessage(fault.what, fault.iteration, opts.out, cfg, `gave up after ${rollbacks} rollback(s) (nan.maxRollbacks): `), fault.what, fault.iteration);
    }
    const ck = loadLatestCheckpoint(opts.out, warn);
    if (!ck) return undefined;
    try {
      restore(ck.tensors, ck.meta, student, method, sched, onDevice, warn);
    } finally {
      for (const t of ck.tensors.values()) t.dispose();
    }
    if (method instanceof TADFKD) method.takeSelectionRate();
    history = (ck.meta.history as EvalPoint[]) ?? [];
    writeLog(opts.out, history);
    pending = [];
    rollbacks += 1;
    lrScale *= policy.lrFactor;
    applyLrScale();
    const gen = method instanceof GeneratorMethod ? `, generator lr ${method.synth.optimizer.lr.toPrecision(3)}` : '';
    warn(
      `non-finite ${fault.what} at iteration ${fault.iteration}: rolled back to checkpoint '${ck.file}' (iteration ${ck.iteration}) ` +
        `and scaled the learning rates by ${lrScale.toPrecision(3)} (student lr ${method.studentOpt.lr.toPrecision(3)}${gen}); rollback ${rollbacks} of at most ${policy.maxRollbacks}`,
    );
    return ck.iteration;
  };

  try {
    // tadfkd.warmupSteps: generator-only steps before the first student step (fresh runs only: a
    // checkpoint holds the warmed-up generator).
    if (start === 0 && method instanceof TADFKD) {
      const w = method.warmup();
      if (w) pending.push(w);
    }
    for (iteration = start + 1; iteration <= cfg.iterations; iteration++) {
      try {
        for (let k = 0; k < cfg.studentSteps; k++) {
          const l = method.studentStep();
          if (inject && k === 0 && inject.left > 0 && inject.iteration === iteration && inject.term !== 'weights') (inject.left -= 1), (l[inject.term] = NaN);
          checkFinite(l, iteration, 'student', opts.out, cfg);
          pending.push(l);
          lastStudentLog = l;
        }
        for (let k = 0; k < cfg.generatorSteps; k++) {
          const l = method.generatorStep();
          checkFinite(l, iteration, 'generator', opts.out, cfg);
          pending.push(l);
        }
        if (inject && inject.left > 0 && inject.iteration === iteration && inject.term === 'weights') (inject.left -= 1), noGrad(() => student.parameters()[0].fill_(NaN));
        checkWeights(student, method, iteration, opts.out, cfg);
      } catch (e) {
        const back = e instanceof NumericalFault ? rollback(e) : undefined;
        if (back === undefined) throw e;
        iteration = back;
        continue;
      }
      sched.step();
      if (lrScale !== 1) applyLrScale();
      const rate = method instanceof TADFKD ? method.takeSelectionRate() : NaN;
      if (Number.isFinite(rate)) pending.push({ selection_rate: rate });
      opts.onProgress?.({ iteration, iterations: cfg.iterations, log: lastStudentLog, selectionRate: rate });

      if (iteration % cfg.sampleEvery === 0 || iteration === cfg.iterations) writeSamples(opts.out, method, iteration);
      if (iteration % cfg.eval.every === 0 || iteration === cfg.iterations) {
        const losses = meanLogs(pending);
        pending = [];
        const acc = evaluate(student, test, tRec.numClasses, cfg.eval.batchSize).accuracy;
        const signals = computeSignals(teacher, student, method, { n: 256 });
        const point: EvalPoint = { iteration, time: elapsed(), testAccuracy: acc, selectionRate: losses.selection_rate ?? NaN, losses, signals, lr: method.studentOpt.lr };
        const reasons = collapseReasons(signals);
        if (reasons.length > 0) {
          point.collapse = reasons;
          warn(`possible generator collapse at iteration ${iteration}: ${reasons.join('; ')}`);
        }
        history.push(point);
        writeLog(opts.out, history);
        opts.onEval?.(point);
        if (cfg.stopWhenStable && iteration < cfg.iterations) {
          earlyStop = stableStop(history, cfg.stopWhenStable, cfg.iterations);
          if (earlyStop) {
            if (iteration % cfg.sampleEvery !== 0) writeSamples(opts.out, method, iteration);
            break;
          }
        }
      }
      if (iteration % cfg.checkpointEvery === 0 && iteration < cfg.iterations) saveCk(iteration, elapsed());
      opts.afterIteration?.(iteration);
      await new Promise<void>((r) => setImmediate(r));
      if (opts.shouldStop?.() && iteration < cfg.iterations) {
        saveCk(iteration, elapsed());
        stopped = true;
        break;
      }
    }
    if (stopped) return { stopped: true, iteration };

    // Final student and summary.
    saveModule(path.join(opts.out, STUDENT_WEIGHTS), student, { arch: opts.studentArch, dataset: tRec.dataset, method: cfg.method, format: 'pt' });
    writeJsonAtomic(path.join(opts.out, STUDENT_RECORD), {
      kind: 'dfkd-student',
      arch: opts.studentArch,
      dataset: tRec.dataset,
      numClasses: tRec.numClasses,
      inChannels: tRec.inChannels,
      imageSize: tRec.imageSize,
      weightsFile: STUDENT_WEIGHTS,
      weightsSha256: sha256File(path.join(opts.out, STUDENT_WEIGHTS)),
    });
    if (sha256File(path.join(opts.teacherDir, tRec.weightsFile)) !== teacherShaBefore) {
      throw new DfkdError('internal error: the teacher weights file changed during distillation', 'EINTERNAL');
    }
    const summary = summarize(history, cfg, tRec, opts, teacher, student, elapsed(), configHash, device);
    if (earlyStop) summary.stoppedEarly = earlyStop;
    writeJsonAtomic(path.join(opts.out, 'summary.json'), summary);
    // Checkpoints are no longer needed once the final student and summary are written.
    fs.rmSync(path.join(opts.out, 'checkpoints'), { recursive: true, force: true });
    void t0;
    return { summary, stopped: false, iteration: summary.iterationsRun ?? cfg.iterations };
  } finally {
    method.dispose();
    norm.dispose();
    student.dispose();
    teacher.dispose();
    disposeTensors(test);
  }
}

function restore(
  t: Map<string, Tensor>,
  meta: Record<string, unknown>,
  student: Classifier,
  method: DistillMethod,
  sched: LRScheduler,
  device: Device | undefined,
  warn: (msg: string) => void,
): void {
  const pick = (prefix: string): Map<string, Tensor> => {
    const m = new Map<string, Tensor>();
    for (const [k, v] of t) if (k.startsWith(prefix)) m.set(k.slice(prefix.length), v);
    return m;
  };
  student.loadStateDict(pick('student.'), { origin: 'checkpoint (student)' });
  method.studentOpt.loadStateDict({ meta: meta.optS as Record<string, number | boolean>, tensors: pick('optS.') });
  method.loadSynthState(pick('synth.'), meta.synth as Record<string, number | boolean>);
  sched.loadStateDict(meta.sched as { lastEpoch: number });
  const rng = t.get('rng');
  if (!rng) throw new DfkdError('checkpoint has no RNG state', 'ECORRUPT');
  setRngState(rng.toArray() as Uint8Array);
  const rngCuda = t.get('rng_cuda');
  if (device && rngCuda) setRngState(rngCuda.toArray() as Uint8Array, device);
  else if (device) warn('the checkpoint was written on the CPU: the CUDA random stream restarts from the seed, so this resumed run will not repeat an uninterrupted one');
  else if (rngCuda) warn('the checkpoint was written on a GPU and the run continues on the CPU: it will not repeat an uninterrupted run on either device');
}

/** log.jsonl holds one line per evaluation; it is rewritten atomically (never left with a partial line). */
function writeLog(runDir: string, history: EvalPoint[]): void {
  writeFileAtomic(path.join(runDir, 'log.jsonl'), history.map((h) => JSON.stringify(h) + '\n').join(''));
}

function writeSamples(runDir: string, method: DistillMethod, iteration: number): void {
  const p = method.preview(64);
  if (p.shape[0] === 0) return;
  savePngGrid(path.join(runDir, 'samples', `iter-${String(iteration).padStart(6, '0')}.png`), p.images, p.shape, { nrow: 8, marks: p.marks, scale: 2 });
}

function summarize(
  history: EvalPoint[],
  cfg: DistillConfig,
  tRec: TeacherRecord,
  opts: DistillOptions,
  teacher: Classifier,
  student: Classifier,
  wall: number,
  configHash: string,
  device: string,
): DistillSummary {
  const last = history[history.length - 1];
  const k = Math.min(cfg.eval.lastK, history.length);
  const lastK = history.slice(-k);
  let best = history[0];
  for (const h of history) if (h.testAccuracy > best.testAccuracy) best = h;
  const tp = teacher.numParameters();
  const sp = student.numParameters();
  return {
    kind: 'dfkd-distill-summary',
    method: cfg.method,
    teacher: { dir: path.resolve(opts.teacherDir), arch: tRec.arch, testAccuracy: tRec.testAccuracy, parameters: tp, weightsSha256: tRec.weightsSha256 },
    student: { arch: opts.studentArch, parameters: sp },
    dataset: tRec.dataset,
    device,
    finalAccuracy: last.testAccuracy,
    lastKMean: lastK.reduce((a, h) => a + h.testAccuracy, 0) / k,
    lastK: k,
    bestOverTraining: { accuracy: best.testAccuracy, iteration: best.iteration, note: 'selected with the test set: not a data-free figure' },
    relativeAccuracy: last.testAccuracy / tRec.testAccuracy,
    compression: tp / sp,
    iterations: cfg.iterations,
    wallTimeSec: wall,
    seed: cfg.seed,
    configHash,
    selectionRate: history.map((h) => h.selectionRate),
    signals: last.signals,
    collapseWarnings: history.filter((h) => h.collapse?.length).map((h) => ({ iteration: h.iteration, reasons: h.collapse! })),
    iterationsRun: last.iteration,
    versions: versions(),
    finishedAt: new Date().toISOString(),
  };
}

/** Loads a distilled student from its run directory (for `dfkd eval`), onto `device` (default CPU). */
export function loadStudent(dir: string, device?: Device): { model: Classifier; record: { arch: string; dataset: string; numClasses: number; inChannels: number; imageSize: number } } {
  const recFile = path.join(dir, STUDENT_RECORD);
  if (!fs.existsSync(recFile)) throw new DfkdError(`'${dir}' holds neither a teacher (teacher.json) nor a finished student (student.json)`, 'ENOMODEL');
  const rec = readJson(recFile, 'student record', 'ERECORD') as {
    arch: string;
    dataset: string;
    numClasses: number;
    inChannels: number;
    imageSize: number;
    weightsFile: string;
    weightsSha256?: string;
  };
  const wfile = path.join(dir, rec.weightsFile);
  if (rec.weightsSha256 && fs.existsSync(wfile) && sha256File(wfile) !== rec.weightsSha256) {
    throw new DfkdError(`student weights '${wfile}' do not match the SHA-256 in ${recFile} (file changed or corrupted)`, 'ECORRUPT');
  }
  const model = buildModel(rec.arch, rec);
  loadModule(wfile, model);
  if (device && device !== 'cpu') model.to(device);
  model.eval();
  return { model, record: rec };
}

export { parseConfig, tidy };

/**
 * The dfkd side of the iteration benchmark: TA-DFKD built exactly as src/distill/run.ts builds it
 * (seed, student, normaliser, createMethod with the resolved Fashion-MNIST preset), then the
 * trainer's iteration: `studentSteps` student steps, `generatorSteps` generator steps and the
 * per-iteration weight check. Warm-up iterations first, then timed ones, each profiled by phase.
 * The evaluation pass (test accuracy on the 10k test images + data-free signals on 256 fresh
 * samples, every `eval.every` iterations) is timed separately and reported amortised.
 */
import { performance } from 'perf_hooks';
import { manualSeed, tidy, Tensor } from '../../src/tensor';
import { buildModel } from '../../src/models';
import type { Classifier } from '../../src/models/registry';
import { resolveConfig, DistillConfig, PartialConfig } from '../../src/distill/config';
import type { MemoryFormat } from '../../src/nn';
import type { Precision } from '../../src/distill/precision';
import type { TaDfkdConfig } from '../../src/distill/methods/ta-dfkd';
import { Normalizer } from '../../src/distill/synthesizer';
import { createMethod, TADFKD } from '../../src/distill/methods';
import type { MethodContext } from '../../src/distill/method';
import { computeSignals } from '../../src/distill/signals';
import { evaluate } from '../../src/train/evaluate';
import { getDatasetInfo, loadDataset } from '../../src/data/registry';
import { toTensors, disposeTensors } from '../../src/data/tensors';
import { saveModule } from '../../src/io/weights';
import { Profiler, Phase, SampleCounts, emptyCounts } from './profile';
import { DATASET } from './teachers';

export interface SideResult {
  /** Seconds of each timed iteration. */
  iterationSec: number[];
  medianSec: number;
  /** Mean seconds per iteration of each phase over the timed iterations. */
  phases: Record<string, number>;
  /** Samples through each network per iteration (mean over the timed iterations). */
  samples: SampleCounts;
  drawsPerStudentStep: number;
  teacherForwardsPerIteration: number;
  selectionRate: number;
  /** The evaluation pass, seconds (once), and per iteration amortised over eval.every. */
  evalPassSec?: number;
  evalAmortizedSec?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The resolved Fashion-MNIST TA-DFKD config; `targets` sets selection.targets when given. */
/**
 * Rounds of the same side merged: every timed iteration counts for the median; phases, sample
 * counts, draws and rates are averaged over the rounds; each round's median is kept.
 */
export function mergeRounds<T extends SideResult>(rounds: T[]): T & { roundsMedianSec: number[] } {
  const mean = (f: (r: T) => number): number => rounds.reduce((a, r) => a + f(r), 0) / rounds.length;
  const meanOf = (f: (r: T) => Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.keys(f(rounds[0])).map((k) => [k, mean((r) => f(r)[k] ?? 0)]));
  const all = rounds.flatMap((r) => r.iterationSec);
  return {
    ...rounds[0],
    iterationSec: all,
    medianSec: median(all),
    roundsMedianSec: rounds.map((r) => r.medianSec),
    phases: meanOf((r) => r.phases),
    samples: meanOf((r) => r.samples as unknown as Record<string, number>) as unknown as SampleCounts,
    drawsPerStudentStep: mean((r) => r.drawsPerStudentStep),
    teacherForwardsPerIteration: mean((r) => r.teacherForwardsPerIteration ?? NaN),
    selectionRate: mean((r) => r.selectionRate),
  };
}

export function benchConfig(seed = 0, targets?: 'reuse' | 'recompute', memoryFormat?: MemoryFormat, precision?: Precision): TaDfkdConfig {
  // (cast: selection.targets is optional in the schema, and absent in configs older than it)
  const over = { seed, ...(targets ? { selection: { targets } } : {}), ...(memoryFormat ? { memoryFormat } : {}), ...(precision ? { precision } : {}) };
  return resolveConfig('ta-dfkd', DATASET, {}, over as PartialConfig) as TaDfkdConfig;
}

/** Builds the method as run.ts does; optionally writes the initial student and generator weights. */
export function buildMethod(teacher: Classifier, cfg: DistillConfig, init?: { student: string; generator: string }, teacherImages?: MethodContext['teacherImages']): { method: TADFKD; student: Classifier; norm: Normalizer } {
  const info = getDatasetInfo(DATASET);
  manualSeed(cfg.seed);
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const norm = new Normalizer(info.mean, info.std);
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm, numClasses: 10, channels: 1, imageSize: 32, contentSize: info.contentSize, teacherImages }) as TADFKD;
  if (init) {
    saveModule(init.student, student);
    saveModule(init.generator, method.synth.generator);
  }
  return { method, student, norm };
}

/** The trainer's per-iteration check (NanGuard.afterSteps): isfinite().all() over every float tensor of the student and synthWeights(). */
function checkWeights(student: Classifier, method: TADFKD): void {
  for (const tensors of [student.stateDict(), method.synthWeights()]) {
    for (const [name, t] of tensors) {
      if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
      if (!tidy(() => t.isfinite().all())) throw new Error(`non-finite weight ${name}`);
    }
  }
}

function iteration(method: TADFKD, student: Classifier, cfg: DistillConfig, prof: Profiler): void {
  for (let k = 0; k < cfg.studentSteps; k++) method.studentStep();
  for (let k = 0; k < cfg.generatorSteps; k++) method.generatorStep();
  prof.section = 'none';
  prof.time('check_weights', () => checkWeights(student, method));
}

export function runDfkdSide(
  teacher: Classifier,
  cfg: DistillConfig,
  o: { warmup: number; iterations: number; evalPass: boolean; init?: { student: string; generator: string }; studentThreads?: number; teacherImages?: MethodContext['teacherImages'] },
): SideResult {
  const { method, student, norm } = buildMethod(teacher, cfg, o.init, o.teacherImages);
  const prof = new Profiler();
  prof.attach(method);
  if (o.studentThreads) prof.withThreads(method, ['studentLoss', 'optimizeStudent'], o.studentThreads);
  const times: number[] = [];
  const rates: number[] = [];
  const counts = emptyCounts();
  let draws = 0;
  let forwards = 0;
  const phaseSums: Record<string, number> = {};
  try {
    for (let i = 0; i < o.warmup; i++) iteration(method, student, cfg, prof);
    method.takeSelectionRate();
    for (let i = 0; i < o.iterations; i++) {
      prof.reset();
      const t0 = performance.now();
      iteration(method, student, cfg, prof);
      times.push((performance.now() - t0) / 1000);
      rates.push(method.takeSelectionRate());
      for (const k of Object.keys(counts) as (keyof SampleCounts)[]) counts[k] += prof.counts[k];
      draws += prof.draws;
      forwards += prof.teacherForwards;
      accumulate(phaseSums, prof.perIteration(1));
    }
    const n = o.iterations;
    const res: SideResult = {
      iterationSec: times,
      medianSec: median(times),
      phases: Object.fromEntries(Object.entries(phaseSums).map(([k, v]) => [k, v / n])),
      samples: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n])) as unknown as SampleCounts,
      drawsPerStudentStep: draws / (n * cfg.studentSteps),
      teacherForwardsPerIteration: forwards / n,
      selectionRate: rates.reduce((a, b) => a + b, 0) / n,
    };
    prof.detach();
    if (o.evalPass) {
      const sec = timeEvalPass(teacher, student, method, cfg);
      res.evalPassSec = sec;
      res.evalAmortizedSec = sec / cfg.eval.every;
    }
    return res;
  } finally {
    prof.detach();
    method.dispose();
    norm.dispose();
    student.dispose();
  }
}

function accumulate(into: Record<string, number>, add: Record<Phase, number>): void {
  for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v;
}

/** One evaluation pass as run.ts makes it every eval.every iterations. */
function timeEvalPass(teacher: Classifier, student: Classifier, method: TADFKD, cfg: DistillConfig): number {
  const info = getDatasetInfo(DATASET);
  const test = toTensors(loadDataset(DATASET, 'test'), info);
  try {
    const t0 = performance.now();
    evaluate(student, test, 10, cfg.eval.batchSize);
    computeSignals(teacher, student, method, { n: 256 });
    return (performance.now() - t0) / 1000;
  } finally {
    disposeTensors(test);
  }
}

export type { Tensor };

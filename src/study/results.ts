/**
 * Study results (`results.json`): per-cell figures read from the run directories, and the statistics
 * per method across teachers. {@link buildResults} is a pure function of the cell list, so the tables
 * can be checked against a hand-computed example; {@link readCell} is the only part that reads files.
 *
 * Conventions: accuracies are fractions in [0, 1]; "std" is the sample standard deviation (n - 1), NaN
 * for fewer than two values; NaN is written to JSON as null (and read back as NaN by {@link loadResults}).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { readJson } from '../io/json';
import type { DistillSummary, EvalPoint } from '../distill/run';
import type { TrustSignals } from '../distill/signals';
import type { TeacherRecipe } from '../train/teacher';
import type { PartialConfig } from '../distill/config';
import type { Versions } from '../versions';
import { mean, spearman, summarize, Summary } from './stats';
import { collapseEvents } from '../distill/collapse';
import { simulateStableStop, STOP_WHEN_STABLE_DEFAULTS } from '../distill/stopping';
import { RUN_FILES, cellId } from '../io/run-dir';

export interface TeacherResult {
  id: string;
  arch: string;
  recipe: TeacherRecipe;
  recipeHash: string;
  testAccuracy: number;
  /** Expected calibration error on the test set. */
  ece: number;
  /** Mean max-softmax on the test set. */
  meanConfidence: number;
  parameters?: number;
  note?: string;
  /** Teacher directory, relative to the study directory. */
  dir?: string;
  /** The student this teacher is distilled into (absent in results written before per-teacher students: the study's). */
  student?: string;
}

/** One finished (teacher, method, seed) run, as read from its run directory. */
export interface CellInput {
  teacherId: string;
  methodId: string;
  method: string;
  seed: number;
  teacherAccuracy: number;
  /** Headline: student test accuracy at the end of training. */
  finalAccuracy: number;
  /** Mean of the last k evaluations. */
  lastKMean: number;
  /** NOT a data-free figure: the best test accuracy over training (selected with the test set). */
  bestOverTraining: { accuracy: number; iteration: number; note: string };
  selectionRateCurve: { iteration: number; rate: number }[];
  accuracyCurve: { iteration: number; accuracy: number }[];
  /** Final data-free trust score (signals.trust at the last evaluation); NaN when absent. */
  trust: number;
  signals: TrustSignals | null;
  /**
   * Probe trust: the student's top-1 agreement with the teacher on a probe set inverted from the teacher
   * alone and shared by every cell of that teacher (src/distill/probe.ts; probe-trust.json in the run
   * directory). NaN until computed; absent in old results.
   */
  probeTrust?: number;
  /** Evaluations at which the collapse detector fired (from the logged signals); absent in old results. */
  collapse?: { iteration: number; reasons: string[] }[];
  /**
   * Where `--stop-when-stable` (default rule) would have ended this run, replayed on its logged signals,
   * and the test accuracy there; null when it would not have fired. Absent in old results.
   */
  stableStop?: { iteration: number; accuracy: number } | null;
  wallTimeSec: number;
  configHash: string;
  /** Run directory, relative to the study directory. */
  runDir: string;
}

export interface CellResult extends CellInput {
  /** finalAccuracy / teacherAccuracy. */
  relativeAccuracy: number;
  /** finalAccuracy < threshold x teacherAccuracy. */
  catastrophic: boolean;
  /** The collapse detector fired at least once during the run. */
  flagged: boolean;
}

/** A cell whose run stopped with an error (e.g. non-finite losses): it has no final accuracy. */
export interface FailedCell {
  teacherId: string;
  methodId: string;
  seed: number;
  error: string;
  runDir: string;
}

/** What the report says about a method's settings (the resolved config of its cells). */
export interface MethodInfo {
  methodId: string;
  method: string;
  description: string;
  overrides?: PartialConfig;
  /** The seeds this method ran (StudyMethod.maxSeeds may make them fewer than the study's); absent in older results: all. */
  seeds?: number[];
  settings?: {
    studentSteps: number;
    generatorSteps: number;
    studentOptimizer: string;
    studentLr: number;
    generatorLr: number;
    studentLoss: string;
    batchSize: number;
    iterations: number;
  };
}

export interface PerTeacherStats {
  teacherId: string;
  /** Seeds (cells) of this teacher and method. */
  n: number;
  meanFinal: number;
  /** Sample std of the final accuracy over seeds (NaN for one seed). */
  stdOverSeeds: number;
  minFinal: number;
  maxFinal: number;
  /** meanFinal / teacher accuracy. */
  meanRelative: number;
  meanLastK: number;
  catastrophic: number;
}

export interface MethodStats extends MethodInfo {
  perTeacher: PerTeacherStats[];
  /** Summary over teachers of the per-teacher mean final accuracy. */
  acrossTeachers: Summary;
  /** Summary over teachers of (per-teacher mean final accuracy / teacher accuracy). */
  relative: Summary;
  /** Cells with final accuracy < threshold x teacher accuracy. */
  catastrophicFailures: number;
  /** Cells that stopped with an error (not in any other figure). */
  failedRuns: number;
  cells: number;
  /** Mean over teachers of the std over seeds (NaN with one seed). */
  seedSpread: number;
  /** Mean over all cells of the test-selected best accuracy (NOT data-free; labelled extra). */
  meanBestOverTraining: number;
  /** Spearman over teachers between a teacher property and this method's per-teacher mean final accuracy. */
  teacherCorrelations: { testAccuracy: number; ece: number; meanConfidence: number; n: number };
}

export interface StudyResults {
  kind: 'dfkd-study-results';
  preset: string;
  description: string;
  dataset: string;
  student: string;
  seeds: number[];
  threshold: number;
  budget: PartialConfig;
  /** Student steps per cell shared by every method (iterations then differ per method); absent: budget.iterations is shared. */
  studentStepBudget?: number;
  teachers: TeacherResult[];
  cells: CellResult[];
  failedCells: FailedCell[];
  methods: MethodStats[];
  /** Rank correlation between the final data-free trust score and the final accuracy over all cells. */
  trustCorrelation: { spearman: number; n: number };
  /** Rank correlation between the probe trust and the final accuracy over all cells (absent in old results). */
  probeTrustCorrelation?: { spearman: number; n: number };
  /** How the collapse detector did against the catastrophic-failure criterion (which uses real data). */
  detector: DetectorStats;
  /** The default --stop-when-stable rule replayed on every cell's logged signals. */
  stoppingRule: StoppingRuleStats;
  /** Finished cells and cells in the study. */
  progress: { done: number; total: number };
  versions: Versions | null;
  command: string;
  wallTimeSec: number;
  generatedAt: string;
}

export interface DetectorStats {
  /** Catastrophic cells, and how many of them the detector flagged. */
  catastrophic: number;
  catastrophicFlagged: number;
  /** Cells that were not catastrophic but were flagged (false alarms). */
  falseAlarms: number;
  /** Ids (teacher/method/seed-N) of catastrophic cells the detector missed. */
  missed: string[];
}

export interface StoppingRuleStats {
  /** Cells with the signals needed to replay the rule. */
  n: number;
  /** Cells where the rule fired before the end. */
  fired: number;
  /** Mean fraction of the iterations the rule saved over all n cells. */
  meanIterationsSaved: number;
  /** Mean of (accuracy where the rule stopped, or the final accuracy when it did not fire) minus final accuracy. */
  meanAccuracyChange: number;
  /** The worst (most negative) such change. */
  worstAccuracyChange: number;
}

/** Cell id as used in reports: teacher/method/seed-N. */
export { cellId };

/** Spearman between a per-cell score and the final accuracy, over the cells where both are finite. */
function correlation(cells: CellResult[], score: (c: CellResult) => number): { spearman: number; n: number } {
  const paired = cells.filter((c) => Number.isFinite(score(c)) && Number.isFinite(c.finalAccuracy));
  return { spearman: paired.length >= 2 ? spearman(paired.map(score), paired.map((c) => c.finalAccuracy)) : NaN, n: paired.length };
}

function detectorStats(cells: CellResult[]): DetectorStats {
  const cat = cells.filter((c) => c.catastrophic);
  return {
    catastrophic: cat.length,
    catastrophicFlagged: cat.filter((c) => c.flagged).length,
    falseAlarms: cells.filter((c) => !c.catastrophic && c.flagged).length,
    missed: cat.filter((c) => !c.flagged).map(cellId),
  };
}

function stoppingRuleStats(cells: CellResult[]): StoppingRuleStats {
  const withRule = cells.filter((c) => c.stableStop !== undefined && c.accuracyCurve.length > 0);
  const lastIt = (c: CellResult): number => c.accuracyCurve[c.accuracyCurve.length - 1].iteration;
  const saved = withRule.map((c) => (c.stableStop ? 1 - c.stableStop.iteration / lastIt(c) : 0));
  const change = withRule.map((c) => (c.stableStop ? c.stableStop.accuracy - c.finalAccuracy : 0));
  return {
    n: withRule.length,
    fired: withRule.filter((c) => c.stableStop).length,
    meanIterationsSaved: withRule.length ? mean(saved) : NaN,
    meanAccuracyChange: withRule.length ? mean(change) : NaN,
    worstAccuracyChange: withRule.length ? Math.min(...change) : NaN,
  };
}

export interface BuildResultsInput {
  preset: string;
  description?: string;
  dataset: string;
  student: string;
  seeds: number[];
  threshold: number;
  budget?: PartialConfig;
  studentStepBudget?: number;
  teachers: TeacherResult[];
  /** Methods in report order (their settings are carried into the result). */
  methods: MethodInfo[];
  cells: CellInput[];
  failedCells?: FailedCell[];
  /** Cells in the whole study (default: the cells given). */
  total?: number;
  versions?: Versions | null;
  command?: string;
  wallTimeSec?: number;
  generatedAt?: string;
}

const finite = (xs: number[]): number[] => xs.filter((x) => Number.isFinite(x));

/** Relative accuracy and the catastrophic flag of one cell. */
export function classifyCell(c: CellInput, threshold: number): CellResult {
  const relativeAccuracy = c.finalAccuracy / c.teacherAccuracy;
  return { ...c, relativeAccuracy, catastrophic: c.finalAccuracy < threshold * c.teacherAccuracy, flagged: (c.collapse?.length ?? 0) > 0 };
}

/** One method's per-teacher statistics over seeds, in the study's teacher order (then any other teacher). */
function perTeacherStats(mine: CellResult[], teacherOrder: string[], teacherAcc: Map<string, number>): PerTeacherStats[] {
  const ids = [...teacherOrder, ...new Set(mine.map((c) => c.teacherId).filter((id) => !teacherOrder.includes(id)))];
  const perTeacher: PerTeacherStats[] = [];
  for (const tid of ids) {
    const cs = mine.filter((c) => c.teacherId === tid).sort((a, b) => a.seed - b.seed);
    if (cs.length === 0) continue;
    const tAcc = teacherAcc.get(tid) ?? cs[0].teacherAccuracy;
    const s = summarize(cs.map((c) => c.finalAccuracy));
    perTeacher.push({
      teacherId: tid,
      n: s.n,
      meanFinal: s.mean,
      stdOverSeeds: s.std,
      minFinal: s.min,
      maxFinal: s.max,
      meanRelative: s.mean / tAcc,
      meanLastK: mean(cs.map((c) => c.lastKMean)),
      catastrophic: cs.filter((c) => c.catastrophic).length,
    });
  }
  return perTeacher;
}

/** One method's statistics across teachers, its failures, and how teacher properties go with its accuracy. */
function methodStats(m: BuildResultsInput['methods'][number], cells: CellResult[], input: BuildResultsInput): MethodStats {
  const mine = cells.filter((c) => c.methodId === m.methodId);
  const teacherAcc = new Map(input.teachers.map((t) => [t.id, t.testAccuracy]));
  const perTeacher = perTeacherStats(mine, input.teachers.map((t) => t.id), teacherAcc);
  const withTeacher = perTeacher.filter((p) => input.teachers.some((t) => t.id === p.teacherId));
  const props = (f: (t: TeacherResult) => number): number =>
    withTeacher.length >= 2 ? spearman(withTeacher.map((p) => f(input.teachers.find((t) => t.id === p.teacherId)!)), withTeacher.map((p) => p.meanFinal)) : NaN;
  const spreads = finite(perTeacher.map((p) => p.stdOverSeeds));
  return {
    ...m,
    perTeacher,
    acrossTeachers: summarize(perTeacher.map((p) => p.meanFinal)),
    relative: summarize(perTeacher.map((p) => p.meanRelative)),
    catastrophicFailures: mine.filter((c) => c.catastrophic).length,
    failedRuns: (input.failedCells ?? []).filter((f) => f.methodId === m.methodId).length,
    cells: mine.length,
    seedSpread: spreads.length > 0 ? mean(spreads) : NaN,
    meanBestOverTraining: mean(mine.map((c) => c.bestOverTraining.accuracy)),
    teacherCorrelations: {
      testAccuracy: props((t) => t.testAccuracy),
      ece: props((t) => t.ece),
      meanConfidence: props((t) => t.meanConfidence),
      n: withTeacher.length,
    },
  };
}

/** The study statistics from the cell list (pure). */
export function buildResults(input: BuildResultsInput): StudyResults {
  const threshold = input.threshold;
  const cells = input.cells.map((c) => classifyCell(c, threshold));
  const failed = input.failedCells ?? [];
  const methods = input.methods.map((m) => methodStats(m, cells, input));
  const { spearman: rho, n: nTrust } = correlation(cells, (c) => c.trust);
  return {
    kind: 'dfkd-study-results',
    preset: input.preset,
    description: input.description ?? '',
    dataset: input.dataset,
    student: input.student,
    seeds: [...input.seeds],
    threshold,
    budget: input.budget ?? {},
    studentStepBudget: input.studentStepBudget,
    teachers: input.teachers,
    cells,
    failedCells: failed,
    methods,
    trustCorrelation: { spearman: rho, n: nTrust },
    probeTrustCorrelation: correlation(cells, (c) => c.probeTrust ?? NaN),
    detector: detectorStats(cells),
    stoppingRule: stoppingRuleStats(cells),
    progress: { done: cells.length, total: input.total ?? cells.length + failed.length },
    versions: input.versions ?? null,
    command: input.command ?? '',
    wallTimeSec: input.wallTimeSec ?? NaN,
    generatedAt: input.generatedAt ?? new Date().toISOString(),
  };
}

/** Rebuilds the statistics of a results object (e.g. with another threshold), keeping its metadata. */
export function recomputeResults(r: StudyResults, threshold = r.threshold): StudyResults {
  return buildResults({
    ...r,
    threshold,
    methods: r.methods.map(({ methodId, method, description, overrides, seeds, settings }) => ({ methodId, method, description, overrides, seeds, settings })),
    cells: r.cells,
    total: r.progress.total,
    generatedAt: new Date().toISOString(),
  });
}

/** Reads log.jsonl of a run directory (skipping blank and torn lines). */
export function readHistory(runDir: string): EvalPoint[] {
  const file = path.join(runDir, RUN_FILES.log);
  if (!fs.existsSync(file)) return [];
  const out: EvalPoint[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as EvalPoint);
    } catch {
      /* a torn last line of an interrupted run */
    }
  }
  return out;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** The cell figures from a finished run's summary and evaluation history (pure). */
export function cellFromSummary(
  key: { teacherId: string; methodId: string; seed: number; runDir: string },
  s: DistillSummary,
  history: EvalPoint[],
): CellInput {
  const signals = s.signals ?? history[history.length - 1]?.signals ?? null;
  return {
    teacherId: key.teacherId,
    methodId: key.methodId,
    method: s.method,
    seed: s.seed,
    teacherAccuracy: s.teacher.testAccuracy,
    finalAccuracy: s.finalAccuracy,
    lastKMean: s.lastKMean,
    bestOverTraining: { ...s.bestOverTraining },
    selectionRateCurve: history.map((h) => ({ iteration: h.iteration, rate: num(h.selectionRate) })),
    accuracyCurve: history.map((h) => ({ iteration: h.iteration, accuracy: h.testAccuracy })),
    trust: num(signals?.trust),
    signals,
    collapse: collapseEvents(history),
    stableStop: replayStableStop(history, s.iterations),
    wallTimeSec: s.wallTimeSec,
    configHash: s.configHash,
    runDir: key.runDir,
  };
}

/** Where the default stopping rule would have ended a finished run, with the accuracy there. */
function replayStableStop(history: EvalPoint[], iterations: number): { iteration: number; accuracy: number } | null {
  const stop = simulateStableStop(history, STOP_WHEN_STABLE_DEFAULTS, iterations);
  if (!stop) return null;
  const at = history.find((h) => h.iteration === stop.iteration)!;
  return { iteration: stop.iteration, accuracy: at.testAccuracy };
}

/** probeAgreement from a run directory's probe-trust.json (src/distill/probe-trust.ts); NaN when absent. */
function readProbeAgreement(runDir: string): number {
  const f = path.join(runDir, 'probe-trust.json');
  if (!fs.existsSync(f)) return NaN;
  try {
    return num((JSON.parse(fs.readFileSync(f, 'utf8')) as { probeAgreement?: unknown }).probeAgreement);
  } catch {
    return NaN;
  }
}

/** Reads a finished cell from `studyDir/runDir` (summary.json + log.jsonl). */
export function readCell(studyDir: string, key: { teacherId: string; methodId: string; seed: number; runDir: string }): CellInput {
  const dir = path.join(studyDir, key.runDir);
  const file = path.join(dir, RUN_FILES.summary);
  if (!fs.existsSync(file)) throw new DfkdError(`cell ${cellId(key)}: no ${RUN_FILES.summary} in ${dir}`, 'ENOENT');
  const s = JSON.parse(fs.readFileSync(file, 'utf8')) as DistillSummary;
  return { ...cellFromSummary(key, s, readHistory(dir)), probeTrust: readProbeAgreement(dir) };
}

// JSON (NaN <-> null) ----------------------------------------------------------------------------

/** Turns every null in a parsed results object back into NaN where a number is expected. */
function revive(v: unknown): unknown {
  if (v === null) return NaN;
  if (Array.isArray(v)) return v.map(revive);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      // Objects that may legitimately be null.
      if (x === null && (k === 'signals' || k === 'versions' || k === 'stableStop')) out[k] = null;
      else out[k] = revive(x);
    }
    return out;
  }
  return v;
}

/** Loads `results.json` (nulls written for NaN come back as NaN). */
export function loadResults(file: string): StudyResults {
  if (!fs.existsSync(file)) throw new DfkdError(`no study results at '${file}' (run 'dfkd study --preset NAME --out DIR' first)`, 'ENOENT');
  const r = revive(readJson(file, 'study results file', 'ECORRUPT')) as StudyResults;
  if (r.kind !== 'dfkd-study-results') throw new DfkdError(`'${file}' is not a dfkd study results file`, 'ECORRUPT');
  return r;
}

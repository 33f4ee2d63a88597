/**
 * `dfkd study`: the teacher-robustness study. Every method of a preset distils every teacher with every
 * seed, with the same student and budget. Study directory:
 *   teachers/<id>-<recipeHash>/     teachers, trained once per recipe (a changed recipe gets a new directory;
 *                                   an existing one with the same hash is reused without retraining)
 *   cells/<teacherId>/<methodId>/seed-<n>/   one `dfkd distill` run directory per cell (resumable)
 *   state.json                      what is done, running, failed; the effective preset; rewritten atomically
 *   results.json                    statistics of the finished cells, rewritten after every cell (src/study/results.ts)
 *   RESULTS.md, report.html         the report (src/study/report.ts), written at the end (and when stopped)
 *
 * Resuming: running the same study again (same --out) skips finished cells without touching them,
 * continues a half-finished cell from its checkpoint and starts the others. Cells run seed by seed
 * (all teachers and methods for seed 0, then seed 1, ...) so that partial results cover every
 * (teacher, method) pair early.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { resolveDevice } from '../tensor';
import { runDistill, runConfigHash, DistillOptions, DistillResult, DistillSummary } from '../distill/run';
import { CellKey, cellDirName, cellKeyString, clearEmptyRunDir, hasRun, isFinished, recordedConfigHash } from '../io/run-dir';
import { resolveConfig, DistillConfig, synthesizerLr } from '../distill/config';
import { trainTeacher, parseRecipe, readTeacherRecord, TeacherRecord, TrainProgress, TEACHER_RECORD } from '../train/teacher';
import { writeJsonAtomic } from '../io/atomic';
import { makeOutputDir } from '../io/safe-out';
import { readJson } from '../io/json';
import { contentHash, nowSeconds } from '../util';
import { versions } from '../versions';
import { StudyPreset, StudyOverrides, getPreset, applyStudyOverrides, validatePreset, cellOverrides, methodSeeds, teacherStudent } from './presets';
import { probeTrustForRuns } from '../distill/probe-trust';
import type { ProbeOptions } from '../distill/probe';
import { buildResults, readCell, CellInput, FailedCell, MethodInfo, StudyResults, TeacherResult } from './results';

export const STATE_FILE = 'state.json';
export const RESULTS_FILE = 'results.json';

export { type CellKey, cellDirName } from '../io/run-dir';

/** 'queued': handed to a queue (`dfkd study --queue`), not yet known to run or finish. */
export type CellStatus = 'pending' | 'queued' | 'running' | 'stopped' | 'done' | 'failed';

export interface CellState extends CellKey {
  status: CellStatus;
  /** Relative to the study directory. */
  runDir: string;
  finalAccuracy?: number;
  error?: string;
  /** DfkdError code of the failure ('ENAN': the method diverged; such cells are not retried). */
  errorCode?: string;
}

export interface StudyState {
  kind: 'dfkd-study-state';
  /** The effective preset (after command-line overrides): `dfkd study --out DIR` alone continues it. */
  preset: StudyPreset;
  dataPath?: string;
  command: string;
  startedAt: string;
  updatedAt: string;
  /** Wall time of all sessions of this study so far (teacher training included). */
  wallTimeSec: number;
  sessions: number;
  done: number;
  total: number;
  teachers: { id: string; dir: string; recipeHash: string; testAccuracy?: number }[];
  cells: CellState[];
}

/** Progress events (for the CLI display). `done` counts finished cells, `total` all cells. */
export type StudyEvent =
  | { type: 'teacher-start'; teacherId: string; index: number; total: number; reused: boolean; dir: string }
  | ({ type: 'teacher-progress'; teacherId: string } & TrainProgress)
  | { type: 'teacher-done'; teacherId: string; index: number; total: number; reused: boolean; record: TeacherRecord }
  | { type: 'plan'; total: number; done: number; cells: CellState[] }
  | { type: 'cell-start'; cell: CellKey; done: number; total: number; iterations: number; resumed: boolean }
  | { type: 'cell-progress'; cell: CellKey; done: number; total: number; iteration: number; iterations: number; loss: number; selectionRate: number }
  | { type: 'cell-eval'; cell: CellKey; done: number; total: number; iteration: number; accuracy: number }
  | { type: 'cell-done'; cell: CellKey; done: number; total: number; result: CellInput }
  | { type: 'cell-failed'; cell: CellKey; done: number; total: number; error: string }
  | { type: 'probe'; teacherId: string; message: string };

/** Runs one cell: `runDistill` unless a test injects another runner. */
export type CellRunner = (opts: DistillOptions, cell: CellKey) => Promise<DistillResult>;

export interface RunStudyOptions extends StudyOverrides {
  /** A preset object or a built-in preset name; omitted: continue the study recorded in OUT/state.json. */
  preset?: StudyPreset | string;
  out: string;
  dataPath?: string;
  /** 'cpu' (default), 'cuda' or 'cuda:N' for teachers and cells; not part of any cell's identity. */
  device?: string;
  /** The command line recorded in state.json / results.json (default: process.argv). */
  command?: string;
  onProgress?: (e: StudyEvent) => void;
  onWarn?: (msg: string) => void;
  /** Polled between iterations of a cell and between cells: true checkpoints the current cell and stops. */
  shouldStop?: () => boolean;
  runCell?: CellRunner;
  /** Write RESULTS.md and report.html at the end (default true). */
  report?: boolean;
  /**
   * Probe trust of every finished cell at the end (src/distill/probe-trust.ts): false skips it, an
   * object overrides the probe options (tests use a tiny probe). Default: on, with PROBE_DEFAULTS.
   */
  probe?: false | Partial<ProbeOptions>;
  /** On a non-finite loss or weight in a cell: stop the cell (default; it is recorded as diverged) or roll back (distill --on-nan). */
  onNan?: 'stop' | 'rollback';
  /**
   * Cells in flight at once (default 1). The queue submitter (src/study/queue-submit.ts) runs every cell at
   * once: its runner only waits for a remote worker, so the local process does no numeric work.
   */
  concurrency?: number;
  /** Status recorded in state.json while a cell is in the runner (default 'running'; the queue uses 'queued'). */
  dispatchStatus?: CellStatus;
  /**
   * A cell that fails for a reason other than divergence is recorded as failed and the study goes on
   * (default false: the error stops the study). The queue sets it: one worker's failure must not abandon the
   * other cells, and the next submission retries the failed cells.
   */
  keepGoing?: boolean;
}

export interface StudyRunResult {
  stopped: boolean;
  done: number;
  total: number;
  failed: number;
  results: StudyResults;
  out: string;
  /** The command that continues this study. */
  resumeCommand: string;
}

/** Directory of a teacher, relative to the study directory. */
export function teacherDirName(id: string, recipeHash: string): string {
  return path.join('teachers', `${id}-${recipeHash}`);
}

/** The cells of a preset in run order: seed, then teacher, then method. */
export function studyCells(p: StudyPreset): CellKey[] {
  const out: CellKey[] = [];
  for (const seed of p.seeds) {
    for (const t of p.teachers) for (const m of p.methods) if (methodSeeds(p, m).includes(seed)) out.push({ teacherId: t.id, methodId: m.id, seed });
  }
  return out;
}

function readState(out: string): StudyState | undefined {
  const f = path.join(out, STATE_FILE);
  if (!fs.existsSync(f)) return undefined;
  const s = readJson(f, 'study state', 'ECORRUPT', 'delete it to start the bookkeeping afresh (finished cells are kept)') as StudyState;
  return s.kind === 'dfkd-study-state' ? s : undefined;
}

function defaultCommand(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return ['dfkd', ...args].join(' ');
}

/**
 * Probe trust of a study's finished cells: one probe per teacher (cached in its directory), then each
 * of its cells. `teacherDirs` maps a teacher id to its directory; `log` gets a teacher id and a message.
 */
export function studyProbeTrust(
  out: string,
  teacherDirs: ReadonlyMap<string, string>,
  cells: readonly { teacherId: string; runDir: string }[],
  o: Partial<ProbeOptions>,
  log: (teacherId: string, message: string) => void,
): void {
  const runs = new Map<string, string[]>();
  const idOfDir = new Map<string, string>();
  for (const [id, dir] of teacherDirs) {
    idOfDir.set(dir, id);
    runs.set(dir, cells.filter((c) => c.teacherId === id).map((c) => path.join(out, c.runDir)));
  }
  probeTrustForRuns(runs, o, (dir, m) => log(idOfDir.get(dir) ?? dir, m));
}

/** Resolves the preset of a study run: the given one (plus overrides), or the one recorded in OUT. */
export function resolveStudyPreset(opts: Pick<RunStudyOptions, 'preset' | 'out' | keyof StudyOverrides>): StudyPreset {
  let base: StudyPreset;
  if (opts.preset === undefined) {
    const st = readState(opts.out);
    if (!st) throw new DfkdError(`--preset NAME is required: '${opts.out}' holds no study to continue (no ${STATE_FILE})`, 'EUSAGE');
    base = st.preset;
  } else {
    base = typeof opts.preset === 'string' ? getPreset(opts.preset) : structuredClone(opts.preset);
  }
  return applyStudyOverrides(validatePreset(base), opts);
}

/** The bookkeeping of one study session: its state (state.json), finished and failed cells, teachers. */
class StudyBook {
  readonly t0 = nowSeconds();
  readonly wallBefore: number;
  readonly teacherResults: TeacherResult[] = [];
  readonly teacherRecords = new Map<string, { record: TeacherRecord; dir: string }>();
  readonly finished = new Map<string, CellInput>();
  readonly failed = new Map<string, FailedCell>();
  /** The config hash each cell's run must record. */
  readonly expected = new Map<string, string>();

  constructor(
    readonly out: string,
    readonly preset: StudyPreset,
    readonly keys: CellKey[],
    readonly methodCfg: Map<string, Map<number, DistillConfig>>,
    readonly methodInfos: MethodInfo[],
    readonly state: StudyState,
  ) {
    this.wallBefore = state.wallTimeSec;
  }

  cfgOf(k: CellKey): DistillConfig {
    return this.methodCfg.get(k.methodId)!.get(k.seed)!;
  }

  results(): StudyResults {
    const p = this.preset;
    return buildResults({
      preset: p.name,
      description: p.description,
      dataset: p.dataset,
      student: p.student,
      seeds: p.seeds,
      threshold: p.catastrophicThreshold,
      budget: p.budget,
      studentStepBudget: p.studentStepBudget,
      teachers: this.teacherResults,
      methods: this.methodInfos,
      cells: this.keys.map((k) => this.finished.get(cellKeyString(k))).filter((c): c is CellInput => c !== undefined),
      failedCells: this.keys.map((k) => this.failed.get(cellKeyString(k))).filter((c): c is FailedCell => c !== undefined),
      total: this.keys.length,
      versions: versions(),
      command: this.state.command,
      wallTimeSec: this.wallBefore + (nowSeconds() - this.t0),
    });
  }

  /** Rewrites state.json and (once every teacher is known) results.json. */
  save(): StudyResults {
    const st = this.state;
    st.updatedAt = new Date().toISOString();
    st.wallTimeSec = this.wallBefore + (nowSeconds() - this.t0);
    st.done = this.finished.size;
    writeJsonAtomic(path.join(this.out, STATE_FILE), st);
    const r = this.results();
    if (this.allTeachers()) writeJsonAtomic(path.join(this.out, RESULTS_FILE), r);
    return r;
  }

  allTeachers(): boolean {
    return this.teacherResults.length === this.preset.teachers.length;
  }

  markDone(cs: CellState): CellInput {
    const cell = readCell(this.out, cs);
    this.finished.set(cellKeyString(cs), cell);
    this.failed.delete(cellKeyString(cs));
    cs.status = 'done';
    cs.error = undefined;
    cs.finalAccuracy = cell.finalAccuracy;
    return cell;
  }

  result(stopped: boolean, results: StudyResults): StudyRunResult {
    return { stopped, done: this.finished.size, total: this.keys.length, failed: this.failed.size, results, out: this.out, resumeCommand: `dfkd study --out ${this.out}` };
  }
}

function methodInfosOf(preset: StudyPreset, methodCfg: Map<string, Map<number, DistillConfig>>): MethodInfo[] {
  return preset.methods.map((m) => {
    const seeds = methodSeeds(preset, m);
    const c = methodCfg.get(m.id)!.get(seeds[0])!;
    return {
      methodId: m.id,
      method: m.method,
      description: m.description,
      overrides: m.overrides,
      seeds,
      settings: {
        studentSteps: c.studentSteps,
        generatorSteps: c.generatorSteps,
        studentOptimizer: c.student.optimizer,
        studentLr: c.student.lr,
        generatorLr: synthesizerLr(c),
        studentLoss: c.studentLoss,
        batchSize: c.batchSize,
        iterations: c.iterations,
      },
    };
  });
}

/** 1. Every cell's config (validated before any work) and its state: a diverged cell stays failed, others are pending. */
function planCells(preset: StudyPreset, out: string, prevState: StudyState | undefined, command: string, dataPath: string | undefined): StudyBook {
  const methodCfg = new Map<string, Map<number, DistillConfig>>();
  for (const m of preset.methods) {
    const bySeed = new Map<number, DistillConfig>();
    for (const seed of methodSeeds(preset, m)) bySeed.set(seed, resolveConfig(m.method, preset.dataset, {}, cellOverrides(preset, m, seed)));
    methodCfg.set(m.id, bySeed);
  }
  const keys = studyCells(preset);
  const cells: CellState[] = keys.map((k) => {
    const prev = prevState?.cells.find((c) => cellKeyString(c) === cellKeyString(k));
    // A diverged cell (non-finite loss) would diverge again at the same iteration: it stays failed.
    // Cells that failed for another reason (disk full, killed...) are retried.
    const diverged = prev?.status === 'failed' && prev.errorCode === 'ENAN' && fs.existsSync(path.join(out, cellDirName(k)));
    return { ...k, status: diverged ? 'failed' : 'pending', runDir: cellDirName(k), error: diverged ? prev.error : undefined, errorCode: diverged ? 'ENAN' : undefined };
  });
  const now = new Date().toISOString();
  const state: StudyState = {
    kind: 'dfkd-study-state',
    preset,
    dataPath,
    command,
    startedAt: prevState?.startedAt ?? now,
    updatedAt: now,
    wallTimeSec: prevState?.wallTimeSec ?? 0,
    sessions: (prevState?.sessions ?? 0) + 1,
    done: 0,
    total: keys.length,
    teachers: [],
    cells,
  };
  return new StudyBook(out, preset, keys, methodCfg, methodInfosOf(preset, methodCfg), state);
}

/** 2. Teachers: trained once per recipe hash, reused afterwards. Returns false when a stop was requested. */
function ensureTeachers(b: StudyBook, opts: RunStudyOptions, dataPath: string | undefined, emit: (e: StudyEvent) => void): boolean {
  const teachers = b.preset.teachers;
  for (let i = 0; i < teachers.length; i++) {
    const t = teachers[i];
    if (opts.shouldStop?.()) return false;
    const recipe = parseRecipe(t.recipe, `teacher '${t.id}' of study preset '${b.preset.name}'`);
    const hash = contentHash(recipe);
    const rel = teacherDirName(t.id, hash);
    const dir = path.join(b.out, rel);
    let reused = false;
    try {
      reused = fs.existsSync(path.join(dir, TEACHER_RECORD)) && readTeacherRecord(dir).recipeHash === hash;
    } catch {
      reused = false;
    }
    emit({ type: 'teacher-start', teacherId: t.id, index: i, total: teachers.length, reused, dir });
    const record = trainTeacher(recipe, { out: dir, dataPath, reuse: true, device: opts.device, onProgress: (p) => emit({ type: 'teacher-progress', teacherId: t.id, ...p }) });
    b.teacherRecords.set(t.id, { record, dir });
    const { arch, recipe: rc, recipeHash, testAccuracy, ece, meanConfidence, parameters } = record;
    b.teacherResults.push({ id: t.id, arch, recipe: rc, recipeHash, testAccuracy, ece, meanConfidence, parameters, note: t.note, dir: rel, student: teacherStudent(b.preset, t.id) });
    b.state.teachers.push({ id: t.id, dir: rel, recipeHash, testAccuracy });
    emit({ type: 'teacher-done', teacherId: t.id, index: i, total: teachers.length, reused, record });
    b.save();
  }
  return true;
}

/** 3. Which cells are finished; refuses cells that an earlier study in the same directory ran with another config. */
function checkConflicts(b: StudyBook): void {
  const conflicts: string[] = [];
  for (const cs of b.state.cells) {
    const { record } = b.teacherRecords.get(cs.teacherId)!;
    const hash = runConfigHash(b.cfgOf(cs), record.weightsSha256, teacherStudent(b.preset, cs.teacherId));
    b.expected.set(cellKeyString(cs), hash);
    const dir = path.join(b.out, cs.runDir);
    if (!hasRun(dir)) continue;
    if (recordedConfigHash(dir) !== hash) {
      conflicts.push(cs.runDir);
      continue;
    }
    if (isFinished(dir)) b.markDone(cs);
  }
  if (conflicts.length > 0) {
    throw new DfkdError(
      `study directory '${b.out}' holds ${conflicts.length} cell(s) run with a different config (budget, method settings, teacher or student changed): ` +
        `${conflicts.slice(0, 3).join(', ')}${conflicts.length > 3 ? ', ...' : ''}. Use another --out, or delete those cell directories to rerun them`,
      'EEXIST',
    );
  }
  for (const cs of b.state.cells) {
    if (cs.status === 'failed' && cs.errorCode === 'ENAN') {
      b.failed.set(cellKeyString(cs), { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed, error: cs.error ?? 'diverged', runDir: cs.runDir });
    }
  }
}

/** The distill options of one cell. */
function cellOptions(b: StudyBook, cs: CellState, opts: RunStudyOptions, dataPath: string | undefined, emit: (e: StudyEvent) => void): DistillOptions {
  const method = b.preset.methods.find((m) => m.id === cs.methodId)!;
  const key: CellKey = { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed };
  const base = cellOverrides(b.preset, method, cs.seed);
  const total = b.keys.length;
  return {
    teacherDir: b.teacherRecords.get(cs.teacherId)!.dir,
    studentArch: teacherStudent(b.preset, cs.teacherId),
    method: method.method,
    overrides: opts.onNan ? { ...base, nan: { policy: opts.onNan } } : base,
    out: path.join(b.out, cs.runDir),
    dataPath,
    device: opts.device,
    resume: true,
    onWarn: opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)),
    shouldStop: opts.shouldStop,
    onProgress: (p) => emit({ type: 'cell-progress', cell: key, done: b.finished.size, total, iteration: p.iteration, iterations: p.iterations, loss: p.log.loss_s ?? NaN, selectionRate: p.selectionRate }),
    onEval: (e) => emit({ type: 'cell-eval', cell: key, done: b.finished.size, total, iteration: e.iteration, accuracy: e.testAccuracy }),
  };
}

/** One cell: 'stopped' when it checkpointed on request; throws on an error that stops the study. */
async function runOneCell(b: StudyBook, cs: CellState, opts: RunStudyOptions, runCell: CellRunner, dataPath: string | undefined, emit: (e: StudyEvent) => void): Promise<'done' | 'stopped'> {
  const o = cellOptions(b, cs, opts, dataPath, emit);
  clearEmptyRunDir(o.out);
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const key: CellKey = { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed };
  const total = b.keys.length;
  emitStart(b, cs, opts, emit, hasRun(o.out));
  let res: DistillResult;
  try {
    res = await runCell(o, key);
  } catch (e) {
    const msg = (e as Error).message;
    cs.status = 'failed';
    cs.error = msg;
    cs.errorCode = e instanceof DfkdError ? e.code : undefined;
    if (!((e instanceof DfkdError && e.code === 'ENAN') || opts.keepGoing)) {
      b.save();
      throw e;
    }
    // The method diverged on this teacher: a result of the study, not a reason to stop it.
    b.failed.set(cellKeyString(cs), { ...key, error: msg, runDir: cs.runDir });
    emit({ type: 'cell-failed', cell: key, done: b.finished.size, total, error: msg });
    b.save();
    return 'done';
  }
  if (res.stopped) {
    cs.status = 'stopped';
    return 'stopped';
  }
  const summary: DistillSummary | undefined = res.summary;
  if (!summary) throw new DfkdError(`internal error: cell ${cs.runDir} finished without a summary`, 'EINTERNAL');
  const want = b.expected.get(cellKeyString(cs));
  if (summary.configHash !== want) o.onWarn!(`cell ${cs.runDir}: config hash ${summary.configHash} differs from the study's expectation ${want}`);
  const cell = b.markDone(cs);
  b.save();
  emit({ type: 'cell-done', cell: key, done: b.finished.size, total, result: cell });
  return 'done';
}

function emitStart(b: StudyBook, cs: CellState, opts: RunStudyOptions, emit: (e: StudyEvent) => void, resumed: boolean): void {
  cs.status = opts.dispatchStatus ?? 'running';
  cs.error = undefined;
  cs.errorCode = undefined;
  b.save();
  const cell: CellKey = { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed };
  emit({ type: 'cell-start', cell, done: b.finished.size, total: b.keys.length, iterations: b.cfgOf(cs).iterations, resumed });
}

/**
 * 4. A pool of `concurrency` lanes taking cells in run order. A stop request or an error lets the cells in
 * flight finish (or checkpoint) and starts no new one. Returns true when stopped.
 */
export async function runCellPool<T>(todo: T[], concurrency: number, shouldStop: (() => boolean) | undefined, runOne: (t: T) => Promise<'done' | 'stopped'>): Promise<boolean> {
  let next = 0;
  let stopped = false;
  let fatal: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < todo.length && !stopped && !fatal) {
      if (shouldStop?.()) {
        stopped = true;
        return;
      }
      const item = todo[next++];
      try {
        if ((await runOne(item)) === 'stopped') stopped = true;
      } catch (e) {
        fatal ??= { error: e };
      }
    }
  };
  const lanes = Math.max(1, Math.min(concurrency, todo.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (fatal) throw fatal.error;
  return stopped;
}

/** 5. Probe trust of the finished cells (one probe per teacher), then the report. */
async function finishStudy(b: StudyBook, opts: RunStudyOptions, emit: (e: StudyEvent) => void): Promise<StudyRunResult> {
  if (opts.probe !== false) {
    const teacherDirs = new Map<string, string>();
    for (const t of b.preset.teachers) {
      const tdir = b.teacherRecords.get(t.id)?.dir;
      if (tdir) teacherDirs.set(t.id, tdir);
    }
    const done = b.state.cells.filter((c) => b.finished.has(cellKeyString(c)));
    studyProbeTrust(b.out, teacherDirs, done, opts.probe ?? {}, (teacherId, message) => emit({ type: 'probe', teacherId, message }));
    for (const c of done) b.finished.set(cellKeyString(c), readCell(b.out, c));
  }
  const results = b.save();
  if (opts.report !== false) await writeReportFiles(results, b.out);
  return b.result(false, results);
}

async function stoppedStudy(b: StudyBook, opts: RunStudyOptions): Promise<StudyRunResult> {
  const r = b.save();
  if (opts.report !== false && b.allTeachers()) await writeReportFiles(r, b.out);
  return b.result(true, r);
}

/** Runs (or continues) a study: plan the cells, ensure the teachers, check conflicts, run the cell pool, report. */
export async function runStudy(opts: RunStudyOptions): Promise<StudyRunResult> {
  const out = opts.out;
  resolveDevice(opts.device); // fails at once on a CPU-only build asked for CUDA
  const preset = resolveStudyPreset(opts);
  const prevState = readState(out);
  const dataPath = opts.dataPath ?? prevState?.dataPath;
  if (preset.needsDataPath && !dataPath) throw new DfkdError(`study preset '${preset.name}' (dataset ${preset.dataset}) needs --data-path DIR`, 'EUSAGE');
  // A continuation (`dfkd study --out DIR`) keeps the command that defined the study.
  const command = opts.preset === undefined && prevState?.command ? prevState.command : (opts.command ?? defaultCommand());
  const runCell: CellRunner = opts.runCell ?? ((o) => runDistill(o));
  const emit = (e: StudyEvent): void => opts.onProgress?.(e);
  makeOutputDir(out);

  const b = planCells(preset, out, prevState, command, dataPath);
  b.save();
  if (!ensureTeachers(b, opts, dataPath, emit)) return stoppedStudy(b, opts);
  checkConflicts(b);
  b.save();
  emit({ type: 'plan', total: b.keys.length, done: b.finished.size, cells: b.state.cells.map((c) => ({ ...c })) });
  const todo = b.state.cells.filter((cs) => cs.status !== 'done' && cs.status !== 'failed');
  const stopped = await runCellPool(todo, opts.concurrency ?? 1, opts.shouldStop, (cs) => runOneCell(b, cs, opts, runCell, dataPath, emit));
  if (stopped) return stoppedStudy(b, opts);
  return finishStudy(b, opts, emit);
}

/** Writes RESULTS.md and report.html (the report module loads Vega lazily). */
async function writeReportFiles(results: StudyResults, out: string): Promise<void> {
  const { writeReport } = await import('./report');
  await writeReport(results, out);
}

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
import { resolveConfig, DistillConfig } from '../distill/config';
import { trainTeacher, parseRecipe, readTeacherRecord, TeacherRecord, TrainProgress } from '../train/teacher';
import { writeJsonAtomic } from '../io/atomic';
import { readJson } from '../io/json';
import { makeOutputDir } from '../io/safe-out';
import { contentHash, nowSeconds } from '../util';
import { versions } from '../versions';
import { StudyPreset, StudyOverrides, getPreset, applyStudyOverrides, validatePreset, cellOverrides } from './presets';
import { probeTrustForRuns } from '../distill/probe-trust';
import type { ProbeOptions } from '../distill/probe';
import { buildResults, readCell, CellInput, FailedCell, MethodInfo, StudyResults, TeacherResult } from './results';

export const STATE_FILE = 'state.json';
export const RESULTS_FILE = 'results.json';

/** Identifies one cell of the study. */
export interface CellKey {
  teacherId: string;
  methodId: string;
  seed: number;
}

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

/** Run directory of a cell, relative to the study directory. */
export function cellDirName(c: CellKey): string {
  return path.join('cells', c.teacherId, c.methodId, `seed-${c.seed}`);
}

/** The cells of a preset in run order: seed, then teacher, then method. */
export function studyCells(p: StudyPreset): CellKey[] {
  const out: CellKey[] = [];
  for (const seed of p.seeds) for (const t of p.teachers) for (const m of p.methods) out.push({ teacherId: t.id, methodId: m.id, seed });
  return out;
}

/** The config hash runDistill will record for this cell. */
function expectedConfigHash(cfg: DistillConfig, teacherSha: string, student: string): string {
  return runConfigHash(cfg, teacherSha, student);
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

/** An interrupted cell may leave a directory with nothing in it but empty folders: runDistill refuses those. */
function clearEmptyRunDir(dir: string): void {
  if (!fs.existsSync(dir) || fs.existsSync(path.join(dir, 'config.json'))) return;
  const isEmpty = (d: string): boolean => fs.readdirSync(d).every((e) => fs.statSync(path.join(d, e)).isDirectory() && isEmpty(path.join(d, e)));
  if (isEmpty(dir)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs (or continues) a study. */
export async function runStudy(opts: RunStudyOptions): Promise<StudyRunResult> {
  const t0 = nowSeconds();
  const out = opts.out;
  resolveDevice(opts.device); // fails at once on a CPU-only build asked for CUDA
  const preset = resolveStudyPreset(opts);
  const prevState = readState(out);
  const dataPath = opts.dataPath ?? prevState?.dataPath;
  if (preset.needsDataPath && !dataPath) throw new DfkdError(`study preset '${preset.name}' (dataset ${preset.dataset}) needs --data-path DIR`, 'EUSAGE');
  // A continuation (`dfkd study --out DIR`) keeps the command that defined the study.
  const command = opts.preset === undefined && prevState?.command ? prevState.command : (opts.command ?? defaultCommand());
  const runCell: CellRunner = opts.runCell ?? ((o) => runDistill(o));
  const warn = opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const emit = (e: StudyEvent): void => opts.onProgress?.(e);
  const resumeCommand = `dfkd study --out ${out}`;
  makeOutputDir(out);

  // 1. Every cell's config, validated before any work.
  const methodCfg = new Map<string, Map<number, DistillConfig>>();
  for (const m of preset.methods) {
    const bySeed = new Map<number, DistillConfig>();
    for (const seed of preset.seeds) bySeed.set(seed, resolveConfig(m.method, preset.dataset, {}, cellOverrides(preset, m, seed)));
    methodCfg.set(m.id, bySeed);
  }

  const keys = studyCells(preset);
  const cellStates: CellState[] = keys.map((k) => {
    const prev = prevState?.cells.find((c) => c.teacherId === k.teacherId && c.methodId === k.methodId && c.seed === k.seed);
    // A diverged cell (non-finite loss) would diverge again at the same iteration: it stays failed.
    // Cells that failed for another reason (disk full, killed...) are retried.
    const diverged = prev?.status === 'failed' && prev.errorCode === 'ENAN' && fs.existsSync(path.join(out, cellDirName(k)));
    return { ...k, status: diverged ? 'failed' : 'pending', runDir: cellDirName(k), error: diverged ? prev.error : undefined, errorCode: diverged ? 'ENAN' : undefined };
  });
  const state: StudyState = {
    kind: 'dfkd-study-state',
    preset,
    dataPath,
    command,
    startedAt: prevState?.startedAt ?? new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    wallTimeSec: prevState?.wallTimeSec ?? 0,
    sessions: (prevState?.sessions ?? 0) + 1,
    done: 0,
    total: keys.length,
    teachers: [],
    cells: cellStates,
  };
  const wallBefore = state.wallTimeSec;
  const teacherResults: TeacherResult[] = [];
  const finished = new Map<string, CellInput>();
  const failed = new Map<string, FailedCell>();
  const keyOf = (k: CellKey): string => `${k.teacherId}\u0000${k.methodId}\u0000${k.seed}`;
  const methodInfos: MethodInfo[] = preset.methods.map((m) => {
    const c = methodCfg.get(m.id)!.get(preset.seeds[0])!;
    return {
      methodId: m.id,
      method: m.method,
      description: m.description,
      overrides: m.overrides,
      settings: {
        studentSteps: c.studentSteps,
        generatorSteps: c.generatorSteps,
        studentOptimizer: c.student.optimizer,
        studentLr: c.student.lr,
        generatorLr: c.method === 'deepinv' ? c.deepinv.lr : c.generator.lr,
        studentLoss: c.studentLoss,
        batchSize: c.batchSize,
        iterations: c.iterations,
      },
    };
  });

  const currentResults = (): StudyResults =>
    buildResults({
      preset: preset.name,
      description: preset.description,
      dataset: preset.dataset,
      student: preset.student,
      seeds: preset.seeds,
      threshold: preset.catastrophicThreshold,
      budget: preset.budget,
      studentStepBudget: preset.studentStepBudget,
      teachers: teacherResults,
      methods: methodInfos,
      cells: keys.map((k) => finished.get(keyOf(k))).filter((c): c is CellInput => c !== undefined),
      failedCells: keys.map((k) => failed.get(keyOf(k))).filter((c): c is FailedCell => c !== undefined),
      total: keys.length,
      versions: versions(),
      command,
      wallTimeSec: wallBefore + (nowSeconds() - t0),
    });
  const save = (): StudyResults => {
    state.updatedAt = new Date().toISOString();
    state.wallTimeSec = wallBefore + (nowSeconds() - t0);
    state.done = finished.size;
    writeJsonAtomic(path.join(out, STATE_FILE), state);
    const r = currentResults();
    if (teacherResults.length === preset.teachers.length) writeJsonAtomic(path.join(out, RESULTS_FILE), r);
    return r;
  };
  const stoppedResult = async (): Promise<StudyRunResult> => {
    const r = save();
    if (opts.report !== false && teacherResults.length === preset.teachers.length) await writeReportFiles(r, out);
    return { stopped: true, done: finished.size, total: keys.length, failed: failed.size, results: r, out, resumeCommand };
  };
  save();

  // 2. Teachers: trained once per recipe hash, reused afterwards.
  const teacherRecords = new Map<string, { record: TeacherRecord; dir: string }>();
  for (let i = 0; i < preset.teachers.length; i++) {
    const t = preset.teachers[i];
    if (opts.shouldStop?.()) return stoppedResult();
    const recipe = parseRecipe(t.recipe, `teacher '${t.id}' of study preset '${preset.name}'`);
    const hash = contentHash(recipe);
    const rel = teacherDirName(t.id, hash);
    const dir = path.join(out, rel);
    let reused = false;
    try {
      reused = fs.existsSync(path.join(dir, 'teacher.json')) && readTeacherRecord(dir).recipeHash === hash;
    } catch {
      reused = false;
    }
    emit({ type: 'teacher-start', teacherId: t.id, index: i, total: preset.teachers.length, reused, dir });
    const record = trainTeacher(recipe, { out: dir, dataPath, reuse: true, device: opts.device, onProgress: (p) => emit({ type: 'teacher-progress', teacherId: t.id, ...p }) });
    teacherRecords.set(t.id, { record, dir });
    teacherResults.push({
      id: t.id,
      arch: record.arch,
      recipe: record.recipe,
      recipeHash: record.recipeHash,
      testAccuracy: record.testAccuracy,
      ece: record.ece,
      meanConfidence: record.meanConfidence,
      parameters: record.parameters,
      note: t.note,
      dir: rel,
    });
    state.teachers.push({ id: t.id, dir: rel, recipeHash: record.recipeHash, testAccuracy: record.testAccuracy });
    emit({ type: 'teacher-done', teacherId: t.id, index: i, total: preset.teachers.length, reused, record });
    save();
  }

  // 3. Which cells are finished, which conflict with an earlier study in the same directory.
  const conflicts: string[] = [];
  const expected = new Map<string, string>();
  for (const cs of cellStates) {
    const { record } = teacherRecords.get(cs.teacherId)!;
    const cfg = methodCfg.get(cs.methodId)!.get(cs.seed)!;
    const hash = expectedConfigHash(cfg, record.weightsSha256, preset.student);
    expected.set(keyOf(cs), hash);
    const dir = path.join(out, cs.runDir);
    const cfgFile = path.join(dir, 'config.json');
    if (!fs.existsSync(cfgFile)) continue;
    let prevHash: string | undefined;
    try {
      prevHash = (JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { configHash?: string }).configHash;
    } catch {
      prevHash = undefined;
    }
    if (prevHash !== hash) {
      conflicts.push(cs.runDir);
      continue;
    }
    if (fs.existsSync(path.join(dir, 'summary.json'))) {
      finished.set(keyOf(cs), readCell(out, cs));
      cs.status = 'done';
      cs.error = undefined;
      cs.finalAccuracy = finished.get(keyOf(cs))!.finalAccuracy;
    }
  }
  if (conflicts.length > 0) {
    throw new DfkdError(
      `study directory '${out}' holds ${conflicts.length} cell(s) run with a different config (budget, method settings, teacher or student changed): ` +
        `${conflicts.slice(0, 3).join(', ')}${conflicts.length > 3 ? ', ...' : ''}. Use another --out, or delete those cell directories to rerun them`,
      'EEXIST',
    );
  }
  save();
  emit({ type: 'plan', total: keys.length, done: finished.size, cells: cellStates.map((c) => ({ ...c })) });

  // 4. The cells.
  for (const cs of cellStates) {
    if (cs.status === 'failed' && cs.errorCode === 'ENAN') {
      failed.set(keyOf(cs), { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed, error: cs.error ?? 'diverged', runDir: cs.runDir });
    }
  }
  save();
  // One cell: returns 'stopped' when it checkpointed on request; throws on an error that stops the study.
  const runOne = async (cs: CellState): Promise<'done' | 'stopped'> => {
    const { dir: teacherDir } = teacherRecords.get(cs.teacherId)!;
    const method = preset.methods.find((m) => m.id === cs.methodId)!;
    const runDir = path.join(out, cs.runDir);
    clearEmptyRunDir(runDir);
    fs.mkdirSync(path.dirname(runDir), { recursive: true });
    const resumed = fs.existsSync(path.join(runDir, 'config.json'));
    const key: CellKey = { teacherId: cs.teacherId, methodId: cs.methodId, seed: cs.seed };
    const iterations = methodCfg.get(cs.methodId)!.get(cs.seed)!.iterations;
    cs.status = opts.dispatchStatus ?? 'running';
    cs.error = undefined;
    cs.errorCode = undefined;
    save();
    emit({ type: 'cell-start', cell: key, done: finished.size, total: keys.length, iterations, resumed });
    let res: DistillResult;
    try {
      res = await runCell(
        {
          teacherDir,
          studentArch: preset.student,
          method: method.method,
          overrides: opts.onNan ? { ...cellOverrides(preset, method, cs.seed), nan: { policy: opts.onNan } } : cellOverrides(preset, method, cs.seed),
          out: runDir,
          dataPath,
          device: opts.device,
          resume: true,
          onWarn: warn,
          shouldStop: opts.shouldStop,
          onProgress: (p) =>
            emit({ type: 'cell-progress', cell: key, done: finished.size, total: keys.length, iteration: p.iteration, iterations: p.iterations, loss: p.log.loss_s ?? NaN, selectionRate: p.selectionRate }),
          onEval: (e) => emit({ type: 'cell-eval', cell: key, done: finished.size, total: keys.length, iteration: e.iteration, accuracy: e.testAccuracy }),
        },
        key,
      );
    } catch (e) {
      const msg = (e as Error).message;
      cs.status = 'failed';
      cs.error = msg;
      cs.errorCode = e instanceof DfkdError ? e.code : undefined;
      if ((e instanceof DfkdError && e.code === 'ENAN') || opts.keepGoing) {
        // The method diverged on this teacher: a result of the study, not a reason to stop it.
        failed.set(keyOf(cs), { ...key, error: msg, runDir: cs.runDir });
        emit({ type: 'cell-failed', cell: key, done: finished.size, total: keys.length, error: msg });
        save();
        return 'done';
      }
      save();
      throw e;
    }
    if (res.stopped) {
      cs.status = 'stopped';
      return 'stopped';
    }
    const summary: DistillSummary | undefined = res.summary;
    if (!summary) throw new DfkdError(`internal error: cell ${cs.runDir} finished without a summary`, 'EINTERNAL');
    if (summary.configHash !== expected.get(keyOf(cs))) {
      warn(`cell ${cs.runDir}: config hash ${summary.configHash} differs from the study's expectation ${expected.get(keyOf(cs))}`);
    }
    const cell = readCell(out, cs);
    finished.set(keyOf(cs), cell);
    failed.delete(keyOf(cs));
    cs.status = 'done';
    cs.finalAccuracy = cell.finalAccuracy;
    save();
    emit({ type: 'cell-done', cell: key, done: finished.size, total: keys.length, result: cell });
    return 'done';
  };

  // A pool of `concurrency` lanes taking cells in run order. A stop request or an error lets the cells
  // in flight finish (or checkpoint) and starts no new one.
  const todo = cellStates.filter((cs) => cs.status !== 'done' && cs.status !== 'failed');
  let next = 0;
  let stopped = false;
  let fatal: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < todo.length && !stopped && !fatal) {
      if (opts.shouldStop?.()) {
        stopped = true;
        return;
      }
      const cs = todo[next++];
      try {
        if ((await runOne(cs)) === 'stopped') stopped = true;
      } catch (e) {
        fatal ??= { error: e };
      }
    }
  };
  const lanes = Math.max(1, Math.min(opts.concurrency ?? 1, todo.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (fatal) throw fatal.error;
  if (stopped) return stoppedResult();

  if (opts.probe !== false) {
    // Probe trust (data-free, comparable across methods): one probe per teacher, cached in its directory.
    const teacherDirs = new Map<string, string>();
    for (const t of preset.teachers) {
      const tdir = teacherRecords.get(t.id)?.dir;
      if (tdir) teacherDirs.set(t.id, tdir);
    }
    const done = state.cells.filter((c) => finished.has(keyOf(c)));
    studyProbeTrust(out, teacherDirs, done, opts.probe ?? {}, (teacherId, message) => emit({ type: 'probe', teacherId, message }));
    for (const c of state.cells) if (finished.has(keyOf(c))) finished.set(keyOf(c), readCell(out, c));
  }
  const results = save();
  if (opts.report !== false) await writeReportFiles(results, out);
  return { stopped: false, done: finished.size, total: keys.length, failed: failed.size, results, out, resumeCommand };
}

/** Writes RESULTS.md and report.html (the report module loads Vega lazily). */
async function writeReportFiles(results: StudyResults, out: string): Promise<void> {
  const { writeReport } = await import('./report');
  await writeReport(results, out);
}

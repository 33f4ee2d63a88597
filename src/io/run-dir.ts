/**
 * The run directory of one distillation (`dfkd distill --out DIR`, or one study cell), in one place:
 *   config.json       the effective config, teacher, student, dataset, configHash, device, versions
 *   log.jsonl         one line per evaluation
 *   samples/          PNG grids of synthetic samples (iter-NNNNNN.png)
 *   checkpoints/      checkpoints + latest.json (resume with --resume)
 *   student.safetensors + student.json   the final student and its record
 *   summary.json      the run's result
 * plus the identity check (a directory holds one run: the same config hash, or nothing) and the ids
 * of study cells. File names are never written as literals elsewhere.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';
import { readJson } from './json';
import { removeStaleTemps, writeFileAtomic } from './atomic';
import { contentHash } from '../util';

export const RUN_FILES = {
  config: 'config.json',
  log: 'log.jsonl',
  summary: 'summary.json',
  studentWeights: 'student.safetensors',
  studentRecord: 'student.json',
  samples: 'samples',
  checkpoints: 'checkpoints',
} as const;

/** Absolute (or `dir`-relative) paths of a run directory's files. */
export function runPaths(dir: string): { -readonly [K in keyof typeof RUN_FILES]: string } {
  const out = {} as { -readonly [K in keyof typeof RUN_FILES]: string };
  for (const [k, f] of Object.entries(RUN_FILES)) out[k as keyof typeof RUN_FILES] = path.join(dir, f);
  return out;
}

/** File name of the sample grid written at `iteration`. */
export function sampleFileName(iteration: number): string {
  return `iter-${String(iteration).padStart(6, '0')}.png`;
}

/**
 * The identity of a run: its config as hashed (see distill/config.ts identityView), the teacher's
 * weights and the student architecture. 16 hex characters.
 */
export function runIdentityHash(identityConfig: unknown, teacherSha: string, student: string): string {
  return contentHash({ config: identityConfig, teacherSha, student });
}

/** What config.json holds (the fields dfkd reads back). */
export interface RunRecord {
  config?: Record<string, unknown>;
  configHash?: string;
  teacher?: { dir?: string; weightsSha256?: string; arch?: string };
  student?: string;
  dataset?: string;
  device?: string;
}

export function readRunRecord(dir: string, hint = 'choose another --out'): RunRecord {
  return readJson(path.join(dir, RUN_FILES.config), 'run record', 'ERECORD', hint) as RunRecord;
}

/** The recorded config hash of a run directory, or undefined when it has none (or it cannot be read). */
export function recordedConfigHash(dir: string): string | undefined {
  const f = path.join(dir, RUN_FILES.config);
  if (!fs.existsSync(f)) return undefined;
  try {
    return (JSON.parse(fs.readFileSync(f, 'utf8')) as RunRecord).configHash;
  } catch {
    return undefined;
  }
}

export function hasRun(dir: string): boolean {
  return fs.existsSync(path.join(dir, RUN_FILES.config));
}
export function isFinished(dir: string): boolean {
  return fs.existsSync(path.join(dir, RUN_FILES.summary));
}

/** What an output directory means for a run with identity `hash`. */
export type RunDirState = { kind: 'new' } | { kind: 'resume' } | { kind: 'finished' };

/**
 * Checks that `dir` is empty, or holds this same run (identity `hash`) and may be continued (resume) or
 * is finished. Throws a DfkdError (code 'EEXIST') for anything else.
 */
export function checkRunDir(dir: string, hash: string, resume: boolean): RunDirState {
  if (hasRun(dir)) {
    const prev = readRunRecord(dir);
    if (prev.configHash !== hash) {
      throw new DfkdError(`output directory '${dir}' already holds a different run (config hash ${prev.configHash}, this run ${hash}); choose another --out`, 'EEXIST');
    }
    if (isFinished(dir)) return { kind: 'finished' };
    if (!resume) throw new DfkdError(`output directory '${dir}' holds an unfinished run of this config; continue it with --resume or choose another --out`, 'EEXIST');
    return { kind: 'resume' };
  }
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    throw new DfkdError(`output directory '${dir}' is not empty and holds no dfkd run; choose another --out`, 'EEXIST');
  }
  return { kind: 'new' };
}

/** Creates the directory layout and removes temporary files of writes interrupted by a crash. */
export function prepareRunDir(dir: string): void {
  const p = runPaths(dir);
  fs.mkdirSync(p.samples, { recursive: true });
  for (const d of [dir, p.samples, p.checkpoints]) removeStaleTemps(d);
}

/** A run killed between its summary and the clean-up: finish the clean-up. */
export function finishCleanup(dir: string): void {
  const p = runPaths(dir);
  fs.rmSync(p.checkpoints, { recursive: true, force: true });
  for (const d of [dir, p.samples]) removeStaleTemps(d);
}

/** An interrupted cell may leave a directory with nothing in it but empty folders: those are removed. */
export function clearEmptyRunDir(dir: string): void {
  if (!fs.existsSync(dir) || hasRun(dir)) return;
  const isEmpty = (d: string): boolean => fs.readdirSync(d).every((e) => fs.statSync(path.join(d, e)).isDirectory() && isEmpty(path.join(d, e)));
  if (isEmpty(dir)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Identifies one cell of a study. */
export interface CellKey {
  teacherId: string;
  methodId: string;
  seed: number;
}

/** Human-readable cell id: `teacher/method/seed-N`. */
export function cellId(c: CellKey): string {
  return `${c.teacherId}/${c.methodId}/seed-${c.seed}`;
}

/** A map key for a cell (ids may hold '/'). */
export function cellKeyString(c: CellKey): string {
  return `${c.teacherId}\u0000${c.methodId}\u0000${c.seed}`;
}

/** Run directory of a cell, relative to the study directory. */
export function cellDirName(c: CellKey): string {
  return path.join('cells', c.teacherId, c.methodId, `seed-${c.seed}`);
}

/** A queue job id for a cell of study `studyId`. */
export function cellJobId(studyId: string, c: CellKey): string {
  return `${studyId}.${c.teacherId}.${c.methodId}.seed-${c.seed}`;
}

/** log.jsonl holds one line per evaluation; it is rewritten atomically (never left with a partial line). */
export function writeRunLog(dir: string, history: readonly unknown[]): void {
  writeFileAtomic(path.join(dir, RUN_FILES.log), history.map((h) => JSON.stringify(h) + '\n').join(''));
}

/**
 * Checkpoints: one safetensors file per save (student, optimiser state, synthesizer state, RNG
 * state, with the JSON-able state in its metadata), written atomically, and a `latest.json`
 * pointer holding the file's SHA-256. Loading verifies the checksum; a corrupt latest checkpoint
 * falls back to the previous good one with a warning.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor';
import { saveTensors, loadTensors, sha256File } from '../io/weights';
import { writeJsonAtomic } from '../io/atomic';
import { DfkdError } from '../errors';

export interface CheckpointPointer {
  file: string;
  sha256: string;
  iteration: number;
  previous?: { file: string; sha256: string; iteration: number };
}

export interface LoadedCheckpoint {
  tensors: Map<string, Tensor>;
  meta: Record<string, unknown>;
  iteration: number;
  file: string;
}

const POINTER = 'latest.json';

export function checkpointDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** Iteration in a checkpoint file name (`ckpt-0000004.safetensors` -> 4), or undefined for other files. */
function fileIteration(name: string): number | undefined {
  const m = /^ckpt-(\d+)\.safetensors$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The entry to record as `previous` when the pointer is missing or unreadable (a resume that fell back
 * to a checkpoint file): the newest checkpoint file older than `iteration` that decodes.
 */
function previousFromFiles(dir: string, iteration: number): CheckpointPointer['previous'] {
  const older = fs.readdirSync(dir).filter((f) => (fileIteration(f) ?? Infinity) < iteration).sort().reverse();
  for (const f of older) {
    const file = path.join(dir, f);
    try {
      for (const t of loadTensors(file).tensors.values()) t.dispose();
      return { file: f, sha256: sha256File(file), iteration: fileIteration(f)! };
    } catch {
      /* unreadable: try an older one */
    }
  }
  return undefined;
}

/**
 * Writes a checkpoint and moves the pointer; keeps the previous checkpoint, deletes older ones. Files
 * of later iterations are never deleted (after a fall-back resume they are overwritten when the run
 * gets there, and the whole directory goes when the run finishes).
 */
export function saveCheckpoint(runDir: string, iteration: number, tensors: Map<string, Tensor>, meta: Record<string, unknown>): CheckpointPointer {
  const dir = checkpointDir(runDir);
  fs.mkdirSync(dir, { recursive: true });
  const name = `ckpt-${String(iteration).padStart(7, '0')}.safetensors`;
  const file = path.join(dir, name);
  saveTensors(file, tensors, { dfkd: JSON.stringify(meta) });
  const sha256 = sha256File(file);
  const prev = readPointer(runDir);
  const pointer: CheckpointPointer = { file: name, sha256, iteration };
  if (prev && prev.file !== name && prev.iteration < iteration) pointer.previous = { file: prev.file, sha256: prev.sha256, iteration: prev.iteration };
  // The same iteration saved again (a stop request at a checkpoint iteration): keep its predecessor.
  else if (prev && prev.previous && prev.previous.iteration < iteration) pointer.previous = prev.previous;
  else pointer.previous = previousFromFiles(dir, iteration);
  if (!pointer.previous) delete pointer.previous;
  writeJsonAtomic(path.join(dir, POINTER), pointer);
  // Remove older checkpoints that are neither the latest nor the previous one.
  const keepFiles = new Set([name, pointer.previous?.file]);
  for (const f of fs.readdirSync(dir)) {
    const it = fileIteration(f);
    if (it !== undefined && it < iteration && !keepFiles.has(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
  return pointer;
}

/** The checkpoint pointer of a run; undefined when there is none, 'corrupt' when latest.json cannot be parsed. */
function readPointerChecked(runDir: string): CheckpointPointer | undefined | 'corrupt' {
  const p = path.join(checkpointDir(runDir), POINTER);
  if (!fs.existsSync(p)) return undefined;
  try {
    const v = JSON.parse(fs.readFileSync(p, 'utf8')) as CheckpointPointer;
    return v && typeof v.file === 'string' && typeof v.sha256 === 'string' ? v : 'corrupt';
  } catch {
    return 'corrupt';
  }
}

export function readPointer(runDir: string): CheckpointPointer | undefined {
  const p = readPointerChecked(runDir);
  return p === 'corrupt' ? undefined : p;
}

/** Path and iteration of the latest recorded checkpoint (for messages), or undefined. */
export function latestCheckpointInfo(runDir: string): { file: string; iteration: number } | undefined {
  const p = readPointer(runDir);
  return p ? { file: path.join(checkpointDir(runDir), p.file), iteration: p.iteration } : undefined;
}

function tryLoad(runDir: string, entry: { file: string; sha256: string; iteration: number }): LoadedCheckpoint | string {
  const file = path.join(checkpointDir(runDir), entry.file);
  if (!fs.existsSync(file)) return `checkpoint '${file}' is missing`;
  const sha = sha256File(file);
  if (sha !== entry.sha256) return `checkpoint '${file}' is corrupt (SHA-256 ${sha.slice(0, 12)}... does not match the recorded ${entry.sha256.slice(0, 12)}...)`;
  try {
    const { tensors, metadata } = loadTensors(file);
    return { tensors, meta: JSON.parse(metadata.dfkd ?? '{}') as Record<string, unknown>, iteration: entry.iteration, file };
  } catch (e) {
    return `checkpoint '${file}' cannot be read: ${(e as Error).message}`;
  }
}

/**
 * Loads the latest valid checkpoint of a run, or undefined when the run has none. Warns (through
 * `warn`) and falls back to the previous checkpoint when the latest is corrupt.
 */
export function loadLatestCheckpoint(runDir: string, warn: (msg: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): LoadedCheckpoint | undefined {
  const ptr = readPointerChecked(runDir);
  if (ptr === 'corrupt') return loadNewestReadable(runDir, warn, 'corrupt');
  if (!ptr) return hasCheckpointFiles(runDir) ? loadNewestReadable(runDir, warn, 'missing') : undefined;
  const first = tryLoad(runDir, ptr);
  if (typeof first !== 'string') return first;
  if (ptr.previous) {
    const second = tryLoad(runDir, ptr.previous);
    if (typeof second !== 'string') {
      warn(`${first}; resuming from the previous checkpoint (iteration ${ptr.previous.iteration})`);
      return second;
    }
    throw new DfkdError(`cannot resume '${runDir}': ${first}; and ${second}`, 'ECORRUPT');
  }
  throw new DfkdError(`cannot resume '${runDir}': ${first} and there is no previous checkpoint`, 'ECORRUPT');
}

/** Whether the run's checkpoint directory holds any checkpoint file. */
function hasCheckpointFiles(runDir: string): boolean {
  const dir = checkpointDir(runDir);
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => fileIteration(f) !== undefined);
}

/**
 * latest.json is unreadable (it is written atomically, so only disk corruption does this) or missing
 * while checkpoint files exist (deleted by hand): use the newest checkpoint file that decodes as a
 * valid safetensors file, with a warning (no checksum to check it against).
 */
function loadNewestReadable(runDir: string, warn: (msg: string) => void, pointer: 'corrupt' | 'missing'): LoadedCheckpoint {
  const dir = checkpointDir(runDir);
  const files = fs.readdirSync(dir).filter((f) => fileIteration(f) !== undefined).sort().reverse();
  const problems: string[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      const { tensors, metadata } = loadTensors(file);
      const meta = JSON.parse(metadata.dfkd ?? '{}') as Record<string, unknown>;
      const iteration = Number(meta.iteration ?? Number(f.slice(5, 12)));
      warn(`checkpoint pointer '${path.join(dir, POINTER)}' is ${pointer}; resuming from the newest readable checkpoint '${file}' (iteration ${iteration}, not checksum-verified)`);
      return { tensors, meta, iteration, file };
    } catch (e) {
      problems.push(`'${file}': ${(e as Error).message}`);
    }
  }
  throw new DfkdError(`cannot resume '${runDir}': checkpoint pointer '${path.join(dir, POINTER)}' is ${pointer} and no checkpoint file is readable${problems.length ? ` (${problems.join('; ')})` : ''}`, 'ECORRUPT');
}

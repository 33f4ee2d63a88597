/** Helpers for tests of run options: the trained student's weights, and "changes the run and resumes exactly". */
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { runDistill } from '../../src/distill/run';
import { loadTensors } from '../../src/io/weights';
import { tinyTeacher, tmpDir, TINY } from './distill-fixtures';

const quiet = { onWarn: () => undefined };

export function studentWeights(dir: string): Float32Array[] {
  const { tensors } = loadTensors(path.join(dir, 'student.safetensors'));
  const out = [...tensors.values()].filter((t) => t.dtype === 'float32').map((t) => t.toFloat32Array());
  for (const t of tensors.values()) t.dispose();
  return out;
}

/**
 * Runs TA-DFKD with `base` (TINY) and with `cfg`, asserts that `cfg` changes the trained student, then runs `cfg`
 * again stopped after its first checkpoint and resumed, and asserts that it ends bit-identical to the
 * uninterrupted run. Returns the uninterrupted `cfg` run's directory.
 */
export async function assertChangesRunAndResumesExactly(cfg: Record<string, unknown>, tag: string, base: Record<string, unknown> = TINY): Promise<string> {
  const teacherDir = tinyTeacher('lenet5');
  const run = (userConfig: Record<string, unknown>, name: string, extra: Record<string, unknown> = {}) => {
    const out = path.join(tmpDir(`${tag}-${name}`), 'run');
    return runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig, out, ...quiet, ...extra }).then((r) => ({ out, r }));
  };
  const plain = await run(base, 'plain');
  const full = await run(cfg, 'opts');
  const a = studentWeights(plain.out);
  const b = studentWeights(full.out);
  assert.ok(a.some((t, i) => t.some((v, j) => v !== b[i][j])), `${tag}: the options change the trained student`);
  // Stop after iteration 2 (a checkpoint), resume, and compare with the uninterrupted run.
  const split = await run(cfg, 'split', { shouldStop: () => true });
  assert.equal(split.r.stopped, true);
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: split.out, resume: true, ...quiet });
  const c = studentWeights(split.out);
  assert.ok(b.every((t, i) => t.every((v, j) => v === c[i][j])), `${tag}: a resumed run ends bit-identical to an uninterrupted one`);
  return full.out;
}

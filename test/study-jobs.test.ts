/** `dfkd study --jobs N`: cells in child processes of their own (src/study/fork-runner.ts), N at a time. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { runStudy, cellDirName, type CellRunner, type StudyEvent } from '../src/study/run';
import { forkCellRunner } from '../src/study/fork-runner';
import { DfkdError } from '../src/errors';
import { tmpDir } from './helpers/distill-fixtures';
import { tinyStudyPreset } from './helpers/study-fixtures';

test('forked cells run two at a time, report progress across the process boundary, repeat bit for bit, and return their errors', async () => {
  const preset = tinyStudyPreset({ name: 'tiny-jobs', description: 'one one-epoch LeNet-5 teacher, TA-DFKD and DFAD, one seed', teachers: 1 });
  const root = tmpDir('study-jobs');
  const runner = forkCellRunner(1);
  let inFlight = 0;
  let most = 0;
  const counting: CellRunner = async (o, k) => {
    most = Math.max(most, ++inFlight);
    try {
      return await runner(o, k);
    } finally {
      inFlight -= 1;
    }
  };
  const events: StudyEvent[] = [];
  const quiet = { command: 'dfkd study (test)', report: false, probe: false as const, onWarn: () => undefined };
  const a = await runStudy({ preset, out: path.join(root, 'a'), concurrency: 2, runCell: counting, onProgress: (e) => events.push(e), ...quiet });
  assert.equal(a.done, 2);
  assert.equal(most, 2, 'both cells were in flight at once');
  assert.ok(events.some((e) => e.type === 'cell-progress'), 'iteration progress reaches the parent');
  assert.ok(events.some((e) => e.type === 'cell-eval'), 'evaluations reach the parent');

  // The TA-DFKD cell again, in another study directory with the same teacher: the same student, bit for bit.
  const cell = cellDirName({ teacherId: 'lenet5-s0', methodId: 'ta-dfkd', seed: 0 });
  const b = path.join(root, 'b');
  fs.cpSync(path.join(root, 'a', 'teachers'), path.join(b, 'teachers'), { recursive: true });
  await runStudy({ preset: { ...preset, methods: preset.methods.filter((m) => m.id === 'ta-dfkd') }, out: b, concurrency: 1, runCell: runner, ...quiet });
  const weights = (dir: string): Buffer => fs.readFileSync(path.join(dir, cell, 'student.safetensors'));
  assert.ok(weights(path.join(root, 'a')).equals(weights(b)), 'a forked cell repeats exactly');

  // A cell that fails in its process comes back as the error it raised there.
  const bad = path.join(root, 'no-such-teacher');
  await assert.rejects(
    runner({ teacherDir: bad, studentArch: 'lenet5-half', method: 'ta-dfkd', out: path.join(root, 'bad-cell') }, { teacherId: 'x', methodId: 'ta-dfkd', seed: 0 }),
    (e: unknown) => e instanceof DfkdError && e.message.includes(bad),
  );
});

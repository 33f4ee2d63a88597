/**
 * The student's weight average (config `studentEma`): the bias-corrected average against a reference
 * computed independently in doubles, validation, and in a run: the average is what is evaluated and
 * saved, the training itself is untouched, and a resumed run ends bit-identical.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { runDistill } from '../src/distill/run';
import { resolveConfig } from '../src/distill/config';
import { StudentEma } from '../src/distill/student-ema';
import { buildModel } from '../src/models';
import { manualSeed, noGrad, randn, tidy } from '../src/tensor';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';
import { studentWeights, assertChangesRunAndResumesExactly } from './helpers/resume';

const quiet = { onWarn: () => undefined };
const SHAPE = { inChannels: 1, numClasses: 10, imageSize: 32 };

test('StudentEma is the decay^age-weighted mean of every state the student had since it was made, with nothing left of its own initial weights', () => {
  const decay = 0.7;
  manualSeed(0);
  const student = buildModel('lenet5-half', SHAPE);
  manualSeed(1);
  const avg = buildModel('lenet5-half', SHAPE);
  const ema = new StudentEma(avg, decay, student);
  // Float states of the student after each "step" (random moves), recorded as doubles.
  const history: Map<string, Float64Array>[] = [];
  for (let step = 0; step < 4; step++) {
    noGrad(() => {
      for (const [, t] of student.stateDict()) if (t.dtype === 'float32') tidy(() => t.add_(randn(t.shape).mul(0.1)));
    });
    history.push(new Map([...student.stateDict()].filter(([, t]) => t.dtype === 'float32').map(([k, t]) => [k, Float64Array.from(t.toFloat32Array())])));
    ema.update(student);
  }
  assert.equal(ema.steps, 4);
  const n = history.length;
  const norm = history.reduce((a, _h, i) => a + Math.pow(decay, n - 1 - i), 0);
  let worst = 0;
  for (const [k, t] of ema.state()) {
    if (t.dtype !== 'float32') {
      assert.deepEqual(t.toArray(), student.stateDict().get(k)!.toArray(), `${k}: integer buffers are copied`);
      continue;
    }
    const got = t.toFloat32Array();
    for (let j = 0; j < got.length; j++) {
      let want = 0;
      for (let i = 0; i < n; i++) want += (Math.pow(decay, n - 1 - i) * history[i].get(k)![j]) / norm;
      worst = Math.max(worst, Math.abs(got[j] - want));
    }
  }
  assert.ok(worst < 1e-5, `largest difference from the reference average: ${worst}`);
  ema.dispose();
  student.dispose();
});

test('studentEma: a decay outside (0, 1) is rejected naming the field; absent, the config has no such field', () => {
  for (const decay of [0, 1, 1.5, -0.1]) {
    assert.throws(() => resolveConfig('ta-dfkd', 'mnist', { ...TINY, studentEma: { decay } }), /studentEma\.decay/);
  }
  assert.throws(() => resolveConfig('dafl', 'mnist', { ...TINY, studentEma: { decay: 0.9, start: 3 } }), /studentEma/);
  assert.equal('studentEma' in resolveConfig('ta-dfkd', 'mnist', TINY), false);
  assert.equal(resolveConfig('dfad', 'mnist', { ...TINY, studentEma: { decay: 0.99 } }).studentEma?.decay, 0.99);
});

test("with studentEma the run trains exactly as without it, evaluates and saves the average, reports the last weights' accuracy beside it, and resumes bit-identically", async () => {
  const teacherDir = tinyTeacher('lenet5');
  const plainOut = path.join(tmpDir('ema-plain'), 'run');
  const plainHistory: { testAccuracy: number }[] = [];
  const plain = await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: TINY, out: plainOut, onEval: (e) => plainHistory.push(e), ...quiet });
  const cfg = { ...TINY, studentEma: { decay: 0.5 } };
  const out = await assertChangesRunAndResumesExactly(cfg, 'ema');
  const history: { testAccuracy: number; rawAccuracy?: number }[] = [];
  const again = await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: path.join(tmpDir('ema-again'), 'run'), onEval: (e) => history.push(e), ...quiet });
  const ps = plain.summary!;
  const es = again.summary!;
  // The average never trains: the student's own accuracy at every evaluation is the plain run's.
  assert.deepEqual(history.map((h) => h.rawAccuracy), plainHistory.map((h) => h.testAccuracy));
  assert.equal(es.studentEma?.rawFinalAccuracy, ps.finalAccuracy);
  assert.equal(es.studentEma?.decay, 0.5);
  assert.equal(es.finalAccuracy, history[history.length - 1].testAccuracy, 'the headline is the average');
  assert.equal(ps.studentEma, undefined);
  // The saved student is the average, not the last weights.
  const a = studentWeights(plainOut);
  const b = studentWeights(out);
  assert.ok(a.some((t, i) => t.some((v, j) => v !== b[i][j])));
});

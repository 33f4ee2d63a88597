import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { stableStop, simulateStableStop, StopWhenStableRule, STOP_WHEN_STABLE_DEFAULTS } from '../src/distill/stopping';
import { resolveConfig } from '../src/distill/config';
import { collapseEvents } from '../src/distill/collapse';
import { runDistill } from '../src/distill/run';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';

const hist = (vals: number[], every = 10, signal: 'agreement' | 'logitDistance' = 'agreement') =>
  vals.map((v, i) => ({ iteration: (i + 1) * every, signals: { [signal]: v } }));
const rule = (o: Partial<StopWhenStableRule> = {}): StopWhenStableRule => ({ ...STOP_WHEN_STABLE_DEFAULTS, ...o });

test('stableStop fires on a plateau and not while the signal still improves', () => {
  const r = rule({ patience: 2, minDelta: 0.01, minProgress: 0 });
  assert.equal(stableStop(hist([0.5, 0.6, 0.7, 0.8]), r, 100), undefined, 'still improving');
  const s = stableStop(hist([0.5, 0.8, 0.805, 0.79]), r, 100);
  assert.ok(s, 'the last two values are within 0.01 of the best before them');
  assert.equal(s.iteration, 40);
  assert.match(s.reason, /agreement has not improved by more than 0.01 for 2 evaluations/);
  assert.equal(stableStop(hist([0.5, 0.8, 0.805]), r, 100), undefined, 'patience 2 needs more than 2 points');
});

test('stableStop respects minProgress, treats logit distance as lower-is-better, and ignores missing signals', () => {
  assert.equal(stableStop(hist([0.8, 0.8, 0.8, 0.8]), rule({ patience: 2, minProgress: 0.5 }), 100), undefined, 'iteration 40 < half of 100');
  assert.ok(stableStop(hist([0.8, 0.8, 0.8, 0.8, 0.8, 0.8]), rule({ patience: 2, minProgress: 0.5 }), 100));
  const ld = rule({ signal: 'logitDistance', patience: 1, minDelta: 0.01, minProgress: 0 });
  assert.equal(stableStop(hist([1.0, 0.5], 10, 'logitDistance'), ld, 100), undefined, 'distance fell: an improvement');
  assert.ok(stableStop(hist([1.0, 0.5, 0.6], 10, 'logitDistance'), ld, 100), 'distance rose: no improvement');
  assert.equal(stableStop([{ iteration: 10 }, { iteration: 20 }, { iteration: 30 }], rule({ patience: 1, minProgress: 0 }), 100), undefined);
});

test('simulateStableStop returns the first evaluation at which the rule fires', () => {
  const s = simulateStableStop(hist([0.5, 0.7, 0.7, 0.7, 0.9]), rule({ patience: 2, minDelta: 0.01, minProgress: 0 }), 100);
  assert.equal(s?.iteration, 40);
});

test('--stop-when-stable config: defaults fill a partial rule; absent by default so config hashes are unchanged', () => {
  const plain = resolveConfig('ta-dfkd', 'fashion-mnist');
  assert.equal('stopWhenStable' in plain, false);
  assert.deepEqual(resolveConfig('ta-dfkd', 'fashion-mnist', {}, { stopWhenStable: {} }).stopWhenStable, STOP_WHEN_STABLE_DEFAULTS);
  assert.equal(resolveConfig('ta-dfkd', 'fashion-mnist', { stopWhenStable: { patience: 5 } }).stopWhenStable?.patience, 5);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { stopWhenStable: { signal: 'accuracy' } }), /stopWhenStable\.signal/);
});

test('a run with a stopping rule that fires ends early with a complete run directory', async () => {
  const teacher = tinyTeacher();
  const out = path.join(tmpDir('stable'), 'r');
  // minDelta 1 cannot be exceeded by agreement (in [0, 1]): the rule fires at the first allowed evaluation.
  const res = await runDistill({
    teacherDir: teacher,
    studentArch: 'lenet5-half',
    method: 'ta-dfkd',
    overrides: { ...TINY, iterations: 8, stopWhenStable: { patience: 1, minDelta: 1, minProgress: 0 } },
    out,
    onWarn: () => undefined,
  });
  const s = res.summary!;
  assert.equal(s.stoppedEarly?.iteration, 4, 'evaluations at 2 and 4: patience 1 fires at the second');
  assert.equal(s.iterationsRun, 4);
  assert.equal(s.iterations, 8);
  for (const f of ['student.safetensors', 'student.json', 'summary.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.equal(fs.existsSync(path.join(out, 'checkpoints')), false);
  const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n');
  assert.equal(log.length, 2);
});

test('collapseEvents lists the evaluations where the detector fires', () => {
  const ok = { coverage: 0.9, missingClasses: 0, diversity: 0.3 };
  const bad = { coverage: 0.1, missingClasses: 8, diversity: 0.001 };
  const ev = collapseEvents([
    { iteration: 10, signals: ok },
    { iteration: 20, signals: bad },
    { iteration: 30 },
    { iteration: 40, signals: null },
  ]);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].iteration, 20);
  assert.equal(ev[0].reasons.length, 2);
});

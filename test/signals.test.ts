import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { tidy, randn, zeros, tensor, manualSeed, Tensor } from '../src/tensor';
import { buildModel } from '../src/models';
import { computeSignals, signalsFrom, collapseReasons } from '../src/distill/signals';

test('identical teacher and student agree on every sample (agreement 1, logit distance 0)', () => {
  manualSeed(1);
  const net = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
  net.eval();
  const s = computeSignals(net, net, { freshSamples: (n: number) => randn([n, 1, 32, 32]) }, { n: 64 });
  assert.equal(s.agreement, 1);
  assert.equal(s.logitDistance, 0);
  net.dispose();
});

test('a generator that outputs one constant image: coverage and diversity at their minimum, the detector fires', () => {
  manualSeed(2);
  const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10 });
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
  teacher.eval();
  const constant = { freshSamples: (n: number): Tensor => zeros([n, 1, 32, 32]).add(0.5) };
  const s = computeSignals(teacher, student, constant, { n: 64 });
  assert.equal(s.coverage, 0, 'one predicted class means zero histogram entropy');
  assert.equal(s.missingClasses, 9);
  assert.ok(Math.abs(s.diversity) < 1e-5, `diversity ${s.diversity} should be 0 for identical samples`);
  assert.equal(s.trust, 0);
  const reasons = collapseReasons(s);
  assert.equal(reasons.length, 2, `expected both diversity and coverage to fire, got ${JSON.stringify(reasons)}`);
  teacher.dispose();
  student.dispose();
});

test('a balanced synthetic set has coverage near its maximum and does not fire the detector', () => {
  tidy(() => {
    // 100 samples, 10 per class: teacher logits one-hot-ish, student equal to teacher, orthogonal-ish features.
    const rows: number[][] = [];
    for (let i = 0; i < 100; i++) {
      const r = new Array(10).fill(0);
      r[i % 10] = 5;
      rows.push(r);
    }
    const t = tensor(rows);
    manualSeed(3);
    const feats = randn([100, 32]);
    const s = signalsFrom(t, t, feats);
    assert.ok(Math.abs(s.coverage - 1) < 1e-9, `coverage ${s.coverage} should be 1`);
    assert.equal(s.missingClasses, 0);
    assert.equal(s.agreement, 1);
    assert.ok(s.diversity > 0.8, `random features should be diverse, got ${s.diversity}`);
    assert.deepEqual(collapseReasons(s), []);
    assert.ok(s.trust > 0.99, `trust ${s.trust}`);
  });
});

test('coverage is the normalised entropy of the predicted-class histogram (hand-computed)', () => {
  tidy(() => {
    // 4 samples predicted as classes 0,0,1,2 out of 4 classes: H = -(0.5 ln 0.5 + 2*0.25 ln 0.25) / ln 4 = 0.75
    const t = tensor([
      [3, 0, 0, 0],
      [3, 0, 0, 0],
      [0, 3, 0, 0],
      [0, 0, 3, 0],
    ]);
    const s = signalsFrom(t, t, randn([4, 8]));
    assert.ok(Math.abs(s.coverage - 0.75) < 1e-12, `coverage ${s.coverage}, expected 0.75`);
    assert.equal(s.missingClasses, 1);
  });
});

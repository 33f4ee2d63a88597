import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitGmm1d, posteriorLowComponent, selectClean, lowComponentIndex } from '../src/distill/gmm';
import { applyClassFloor } from '../src/distill/selection';
import { DfkdError } from '../src/errors';

/** mulberry32 seeded PRNG in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(r: () => number, n: number, mu: number, sd: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u = 1 - r();
    const v = r();
    out.push(mu + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

/** Deterministic shuffle so the two modes are interleaved. */
function shuffle<T>(r: () => number, xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** 300 samples N(0.2, 0.05^2) (label 0) and 100 of N(0.8, 0.05^2) (label 1), shuffled. */
function twoModes(seed: number, nLow = 300, nHigh = 100): { x: number[]; label: number[] } {
  const r = rng(seed);
  const pts = [
    ...normals(r, nLow, 0.2, 0.05).map((v) => ({ v, l: 0 })),
    ...normals(r, nHigh, 0.8, 0.05).map((v) => ({ v, l: 1 })),
  ];
  const s = shuffle(r, pts);
  return { x: s.map((p) => p.v), label: s.map((p) => p.l) };
}

test('fitGmm1d recovers the parameters of a known mixture', () => {
  for (const seed of [1, 2, 3]) {
    const { x } = twoModes(seed);
    const fit = fitGmm1d(x);
    const lo = lowComponentIndex(fit);
    const hi = 1 - lo;
    assert.ok(Math.abs(fit.means[lo] - 0.2) < 0.015, `low mean ${fit.means[lo]}`);
    assert.ok(Math.abs(fit.means[hi] - 0.8) < 0.015, `high mean ${fit.means[hi]}`);
    assert.ok(Math.abs(fit.weights[lo] - 0.75) < 0.01, `low weight ${fit.weights[lo]}`);
    assert.ok(Math.abs(fit.weights[0] + fit.weights[1] - 1) < 1e-12);
    // true variance 0.0025 plus regCovar 5e-4
    for (const k of [0, 1]) assert.ok(Math.abs(fit.variances[k] - 0.003) < 0.001, `variance ${fit.variances[k]}`);
    assert.ok(fit.converged);
    assert.ok(fit.iterations >= 1 && fit.iterations <= 10);
    assert.ok(Number.isFinite(fit.lowerBound));
  }
});

test('fitGmm1d matches scikit-learn GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4)', () => {
  // Reference values computed with scikit-learn 1.x (float64) on this data.
  const x = [
    0.8136, 0.4134, 0.7485, 0.0698, 0.3583, 0.4462, 0.3902, 0.19, 0.7781, 0.2828, 0.7024, 0.7179, 0.6695, 0.2751,
    0.3042, 0.9492, 0.2122, 0.839, 0.3865, 0.2877, 0.2064, 0.2316, 0.3319, 0.6486, 0.2239, 0.094, 0.667, 0.2678,
    0.2472, 0.6675, 0.4145, 0.1899, 0.4745, 0.6159, 0.4624, 0.1927, 0.2616, 0.2388, 0.3502, 0.3901,
  ];
  const fit = fitGmm1d(x);
  const close = (a: number, b: number, tol = 1e-7) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
  close(fit.means[0], 0.29288558);
  close(fit.means[1], 0.73270789);
  close(fit.variances[0], 0.01149366);
  close(fit.variances[1], 0.00959605);
  close(fit.weights[0], 0.69898772);
  close(fit.weights[1], 0.30101228);
  close(fit.lowerBound, 0.2753716492455253, 1e-12);
  assert.equal(fit.iterations, 2);
  assert.equal(fit.converged, true);
  const expected = [
    2.2e-5, 0.995649, 0.000257, 1.0, 0.999618, 0.982134, 0.998426, 1.0, 8.4e-5, 0.999988, 0.001508, 0.000829,
    0.005433, 0.999991, 0.999967, 0.0, 1.0, 9e-6, 0.998663, 0.999984, 1.0, 0.999999, 0.999883, 0.012327, 0.999999,
    1.0, 0.005991, 0.999994, 0.999998, 0.005875, 0.995435, 1.0, 0.942203, 0.044118, 0.964747, 1.0, 0.999995,
    0.999998, 0.999734, 0.998433,
  ];
  const post = posteriorLowComponent(x, fit);
  for (let i = 0; i < x.length; i++) close(post[i], expected[i], 6e-7);
});

test('fitGmm1d with unequal weights 0.7/0.3 and overlapping modes', () => {
  const r = rng(42);
  const x = shuffle(r, [...normals(r, 700, 0.3, 0.1), ...normals(r, 300, 0.7, 0.1)]);
  const fit = fitGmm1d(x, { maxIter: 200, tol: 1e-8 });
  const lo = lowComponentIndex(fit);
  assert.ok(Math.abs(fit.means[lo] - 0.3) < 0.03, `low mean ${fit.means[lo]}`);
  assert.ok(Math.abs(fit.means[1 - lo] - 0.7) < 0.05, `high mean ${fit.means[1 - lo]}`);
  assert.ok(Math.abs(fit.weights[lo] - 0.7) < 0.06, `low weight ${fit.weights[lo]}`);
});

test('fitGmm1d: maxIter caps the iterations, tol 0 never converges early, warm start works', () => {
  const { x } = twoModes(5);
  const one = fitGmm1d(x, { maxIter: 1 });
  assert.equal(one.iterations, 1);
  assert.equal(one.converged, false);
  const full = fitGmm1d(x, { tol: 0, maxIter: 7 });
  assert.equal(full.iterations, 7);
  const warm = fitGmm1d(x, { init: full });
  assert.ok(Math.abs(warm.means[0] - full.means[0]) < 1e-3);
  assert.throws(() => fitGmm1d(x, { maxIter: 0 }), DfkdError);
  assert.throws(() => fitGmm1d(x, { regCovar: -1 }), DfkdError);
  assert.throws(() => fitGmm1d([]), DfkdError);
  assert.throws(() => fitGmm1d([0, NaN, 1]), DfkdError);
});

test('fitGmm1d on constant input gives two identical components', () => {
  const fit = fitGmm1d([3, 3, 3, 3]);
  // (sklearn's 10*eps count regulariser makes the means 3 up to rounding)
  assert.equal(fit.means[0], fit.means[1]);
  assert.ok(Math.abs(fit.means[0] - 3) < 1e-12);
  assert.deepEqual(fit.weights, [0.5, 0.5]);
  assert.ok(Math.abs(fit.variances[0] - 5e-4) < 1e-15);
  assert.ok(fit.converged);
});

test('posteriorLowComponent is the posterior of the lower-mean component', () => {
  const fit = { means: [0.8, 0.2] as [number, number], variances: [0.01, 0.01] as [number, number], weights: [0.5, 0.5] as [number, number] };
  const p = posteriorLowComponent([0.2, 0.5, 0.8, NaN], fit);
  assert.ok(p[0] > 0.999);
  assert.ok(Math.abs(p[1] - 0.5) < 1e-12);
  assert.ok(p[2] < 0.001);
  assert.ok(Number.isNaN(p[3]));
});

test('selectClean keeps the low-loss mode and drops the high-loss mode', () => {
  for (const seed of [11, 12, 13]) {
    const { x, label } = twoModes(seed);
    const res = selectClean(x);
    assert.equal(res.degenerate, false);
    assert.ok(res.fit !== null);
    let lowKept = 0, highKept = 0;
    for (let i = 0; i < x.length; i++) {
      if (label[i] === 0) lowKept += res.mask[i];
      else highKept += res.mask[i];
      assert.equal(res.mask[i], res.posterior[i] > 0.5 ? 1 : 0);
    }
    assert.ok(lowKept / 300 >= 0.95, `low kept ${lowKept}`);
    assert.ok(highKept / 100 <= 0.05, `high kept ${highKept}`);
    assert.ok(Math.abs(res.rate - (lowKept + highKept) / 400) < 1e-12);
  }
});

test('selectClean drops corrupted samples with large losses', () => {
  const r = rng(7);
  const losses = normals(r, 60, 0.5, 0.1).map(Math.abs);
  const corrupted = [3, 17, 29, 41, 58];
  for (const i of corrupted) losses[i] = 6 + r();
  const res = selectClean(losses);
  for (let i = 0; i < losses.length; i++) {
    assert.equal(res.mask[i], corrupted.includes(i) ? 0 : 1, `sample ${i} loss ${losses[i]}`);
  }
  assert.ok(Math.abs(res.rate - 55 / 60) < 1e-12);
});

test('selectClean: all-identical losses keep everything and are degenerate', () => {
  const res = selectClean([0.3, 0.3, 0.3, 0.3, 0.3]);
  assert.deepEqual([...res.mask], [1, 1, 1, 1, 1]);
  assert.deepEqual([...res.posterior], [1, 1, 1, 1, 1]);
  assert.equal(res.rate, 1);
  assert.equal(res.degenerate, true);
  assert.equal(res.fit, null);
});

test('selectClean: batches of size 0..3 keep everything; size 4 fits', () => {
  const empty = selectClean([]);
  assert.equal(empty.mask.length, 0);
  assert.equal(empty.rate, 1);
  assert.equal(empty.degenerate, true);
  for (const b of [[0.1], [0.1, 5], [0.1, 0.2, 9]]) {
    const res = selectClean(b);
    assert.deepEqual([...res.mask], b.map(() => 1));
    assert.equal(res.degenerate, true);
    assert.equal(res.rate, 1);
  }
  const four = selectClean([0.1, 0.11, 0.12, 9]);
  assert.equal(four.degenerate, false);
  assert.deepEqual([...four.mask], [1, 1, 1, 0]);
  // minSamples can lower the limit to the mathematical minimum of 2.
  const two = selectClean([0.1, 5], { minSamples: 2 });
  assert.equal(two.degenerate, false);
  assert.deepEqual([...two.mask], [1, 0]);
  assert.throws(() => selectClean([1, 2], { minSamples: 1 }), DfkdError);
});

test('selectClean: non-finite losses are rejected and excluded from the fit', () => {
  const { x } = twoModes(21, 30, 10);
  const base = selectClean(x);
  const withBad = [NaN, ...x, Infinity, -Infinity];
  const res = selectClean(withBad);
  assert.equal(res.mask[0], 0);
  assert.equal(res.mask[withBad.length - 1], 0);
  assert.equal(res.mask[withBad.length - 2], 0);
  assert.equal(res.posterior[0], 0);
  // The finite samples get exactly the same decisions as without the bad ones.
  assert.deepEqual([...res.mask.subarray(1, 1 + x.length)], [...base.mask]);
  assert.deepEqual([...res.posterior.subarray(1, 1 + x.length)], [...base.posterior]);
  const kept = base.mask.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(res.rate - kept / withBad.length) < 1e-12);
  // Too few finite values left: keep the finite ones only.
  const few = selectClean([NaN, 0.2, Infinity, 0.4]);
  assert.deepEqual([...few.mask], [0, 1, 0, 1]);
  assert.equal(few.degenerate, true);
  assert.equal(few.rate, 0.5);
  const none = selectClean([NaN, NaN]);
  assert.deepEqual([...none.mask], [0, 0]);
  assert.equal(none.rate, 0);
});

test('selectClean: a higher threshold keeps fewer samples', () => {
  const r = rng(99);
  // overlapping modes so that many posteriors are between 0.5 and 0.9
  const x = shuffle(r, [...normals(r, 200, 0.4, 0.15), ...normals(r, 100, 0.9, 0.15)]);
  const a = selectClean(x, { threshold: 0.5 });
  const b = selectClean(x, { threshold: 0.9 });
  const ka = a.mask.reduce((s, v) => s + v, 0);
  const kb = b.mask.reduce((s, v) => s + v, 0);
  assert.ok(kb < ka, `${kb} < ${ka}`);
  for (let i = 0; i < x.length; i++) if (b.mask[i]) assert.equal(a.mask[i], 1);
  assert.throws(() => selectClean(x, { threshold: 1.5 }), DfkdError);
});

test('selectClean is invariant to positive affine transforms of the losses', () => {
  const { x } = twoModes(31);
  const base = selectClean(x);
  for (const [a, b] of [[10, 3], [0.001, -5], [250, 1e4]]) {
    const res = selectClean(x.map((v) => a * v + b));
    assert.deepEqual([...res.mask], [...base.mask]);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(res.posterior[i] - base.posterior[i]) < 1e-9);
  }
});

test('selectClean is deterministic', () => {
  const { x } = twoModes(77);
  const a = selectClean(x);
  assert.deepEqual(selectClean(x), a);
  assert.deepEqual(selectClean(Float64Array.from(x)), a);
});

test('applyClassFloor keeps at least ceil(floor x n_c) of every class, lowest scores first, and never a non-finite score', () => {
  // Class 0: four low scores (the GMM keeps them). Class 1: four high scores, all rejected by the GMM,
  // plus a non-finite one.
  const scores = Float64Array.from([0.1, 0.2, 0.1, 0.15, 5.0, 4.0, 6.0, 4.5, NaN]);
  const classes = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1]);
  const r = selectClean(scores, { threshold: 0.5 });
  assert.deepEqual([...r.mask], [1, 1, 1, 1, 0, 0, 0, 0, 0], 'the batch-wide GMM drops the whole of class 1');
  applyClassFloor(r, scores, classes, 0.5);
  assert.deepEqual([...r.mask], [1, 1, 1, 1, 0, 1, 0, 1, 0], 'class 1 keeps its two lowest finite scores (4.0, 4.5)');
  assert.equal(r.rate, 6 / 9);
  const none = selectClean(scores, { threshold: 0.5 });
  applyClassFloor(none, scores, classes, 0);
  assert.deepEqual([...none.mask], [1, 1, 1, 1, 0, 0, 0, 0, 0], 'floor 0 changes nothing');
});

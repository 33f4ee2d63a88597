import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mean, sampleStd, min, max, median, pearson, spearman, averageRanks, summarize, countBelow,
} from '../src/study/stats';
import { DfkdError } from '../src/errors';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('mean, min, max, median', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.equal(mean(Float32Array.from([0.5, 1.5])), 1);
  assert.ok(Number.isNaN(mean([])));
  assert.equal(min([3, -1, 2]), -1);
  assert.equal(max([3, -1, 2]), 3);
  assert.ok(Number.isNaN(min([])));
  assert.ok(Number.isNaN(max([1, NaN])));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([10, -5]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(median([1, NaN, 2])));
});

test('sampleStd uses n - 1 and is NaN for n < 2', () => {
  // mean 5, squared deviations sum to 32, 32 / 7
  close(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  close(sampleStd([1, 3]), Math.sqrt(2));
  assert.equal(sampleStd([5, 5, 5]), 0);
  assert.ok(Number.isNaN(sampleStd([1])));
  assert.ok(Number.isNaN(sampleStd([])));
});

test('pearson', () => {
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  close(pearson([1, 2, 3], [3, 2, 1]), -1);
  // deviations (-1.5,-0.5,0.5,1.5) and (-1.5,0.5,-0.5,1.5): 4 / sqrt(5 * 5)
  close(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(pearson([1], [2])));
  assert.throws(() => pearson([1, 2], [1, 2, 3]), DfkdError);
});

test('averageRanks gives ties their mean rank', () => {
  assert.deepEqual([...averageRanks([10, 20, 20, 30])], [1, 2.5, 2.5, 4]);
  assert.deepEqual([...averageRanks([3, 1, 3, 3, 2])], [4, 1, 4, 4, 2]);
});

test('spearman with ties, by hand', () => {
  // ranks a = (1, 2.5, 2.5, 4), b = (1, 3, 2, 4); deviations from 2.5:
  // a: (-1.5, 0, 0, 1.5), b: (-1.5, 0.5, -0.5, 1.5)
  // sum ab = 4.5, sum aa = 4.5, sum bb = 5 -> r = 4.5 / sqrt(22.5) = sqrt(0.9)
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), Math.sqrt(0.9));
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 0.9486832980505138);
  // ties on both sides: ranks (1.5, 1.5, 3) and (1, 2.5, 2.5) -> 0.75 / 1.5
  close(spearman([1, 1, 2], [1, 2, 2]), 0.5);
  // monotone but non-linear -> 1; reversed -> -1
  close(spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1);
  close(spearman([1, 2, 3, 4], [9, 4, 1, 0]), -1);
  assert.ok(Number.isNaN(spearman([2, 2, 2], [1, 2, 3])));
  assert.throws(() => spearman([1], [1, 2]), DfkdError);
});

test('summarize', () => {
  assert.deepEqual(summarize([1, 2, 3, 4]), { n: 4, mean: 2.5, std: Math.sqrt(5 / 3), min: 1, max: 4 });
  const one = summarize([7]);
  assert.equal(one.n, 1);
  assert.equal(one.mean, 7);
  assert.ok(Number.isNaN(one.std));
  const empty = summarize([]);
  assert.equal(empty.n, 0);
  assert.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.min) && Number.isNaN(empty.max));
});

test('countBelow counts values strictly below each threshold', () => {
  assert.deepEqual(countBelow([0.1, 0.5, 0.9, NaN], [0.5, 1, 0, 0.9]), [1, 3, 0, 2]);
  assert.deepEqual(countBelow([], [1, 2]), [0, 0]);
  assert.deepEqual(countBelow([1, 2], []), []);
});

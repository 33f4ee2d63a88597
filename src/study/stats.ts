/**
 * Small, dependency-free descriptive statistics for the study reports and the
 * trust signals.
 *
 * Conventions: every function takes `ArrayLike<number>`; an empty input gives
 * NaN (or 0 for counts); a NaN anywhere in the input propagates to the result
 * (like `Math.min`), except in {@link countBelow}, where NaN never counts.
 */
import { DfkdError } from '../errors';

/** Summary of a sample: size, mean, sample standard deviation, extremes. */
export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); NaN when n < 2. */
  std: number;
  min: number;
  max: number;
}

/** Arithmetic mean; NaN for an empty input. */
export function mean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  return s / n;
}

/**
 * Sample standard deviation with Bessel's correction (divides by n - 1).
 * Returns NaN when n < 2 (undefined, as in pandas / numpy `ddof=1`), so that
 * a single run is never reported as having zero spread.
 */
export function sampleStd(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1));
}

/** Smallest value; NaN for an empty input or if any value is NaN. */
export function min(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let r = Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v < r) r = v;
  }
  return r;
}

/** Largest value; NaN for an empty input or if any value is NaN. */
export function max(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let r = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v > r) r = v;
  }
  return r;
}

/** Median (mean of the two middle values for even n); NaN for an empty input or if any value is NaN. */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(values);
  for (let i = 0; i < n; i++) if (Number.isNaN(s[i])) return NaN;
  s.sort();
  const h = n >> 1;
  return n % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function checkPaired(a: ArrayLike<number>, b: ArrayLike<number>, fn: string): void {
  if (a.length !== b.length) {
    throw new DfkdError(`${fn}: inputs must have the same length, got ${a.length} and ${b.length}`, 'ESTATS_INPUT');
  }
}

/**
 * Pearson correlation coefficient. Throws DfkdError when the lengths differ;
 * NaN when n < 2, when either input is constant, or when any value is NaN.
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPaired(a, b, 'pearson');
  const n = a.length;
  if (n < 2) return NaN;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (!(saa > 0 && sbb > 0)) return NaN;
  const r = sab / Math.sqrt(saa * sbb);
  return Math.max(-1, Math.min(1, r));
}

/**
 * 1-based ranks with ties given their average rank (e.g. [10, 20, 20, 30] ->
 * [1, 2.5, 2.5, 4]). NaN values get rank NaN.
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const ranks = new Float64Array(n);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(values[i])) ranks[i] = NaN;
    else idx.push(i);
  }
  idx.sort((i, j) => values[i] - values[j] || i - j);
  let k = 0;
  while (k < idx.length) {
    let e = k;
    while (e + 1 < idx.length && values[idx[e + 1]] === values[idx[k]]) e++;
    const r = (k + e) / 2 + 1;
    for (let t = k; t <= e; t++) ranks[idx[t]] = r;
    k = e + 1;
  }
  return ranks;
}

/**
 * Spearman rank correlation: Pearson correlation of the average ranks (ties
 * share their mean rank). Throws DfkdError when the lengths differ; NaN when
 * n < 2, when either input is constant, or when any value is NaN.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPaired(a, b, 'spearman');
  return pearson(averageRanks(a), averageRanks(b));
}

/** n, mean, sample std (NaN for n < 2), min and max of `values`. */
export function summarize(values: ArrayLike<number>): Summary {
  return { n: values.length, mean: mean(values), std: sampleStd(values), min: min(values), max: max(values) };
}

/**
 * For each threshold t, the number of values strictly below t (NaN values
 * never count). The result is aligned with `thresholds`.
 */
export function countBelow(values: ArrayLike<number>, thresholds: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let k = 0; k < thresholds.length; k++) {
    const t = thresholds[k];
    let c = 0;
    for (let i = 0; i < values.length; i++) if (values[i] < t) c++;
    out.push(c);
  }
  return out;
}

/**
 * Sample selection for TA-DFKD (DivideMix-style): fit a two-component 1-D
 * Gaussian mixture to per-sample losses and keep the samples that most likely
 * belong to the low-loss component.
 *
 * The EM loop mirrors scikit-learn's
 * `GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4)`:
 *  - initial responsibilities come from a hard 2-means clustering (sklearn
 *    uses randomised k-means; here a deterministic 1-D Lloyd iteration started
 *    at the minimum and maximum of the data);
 *  - the M-step adds `10 * Number.EPSILON` to the component counts and
 *    `regCovar` to the variances (exactly as sklearn does);
 *  - each iteration is E-step then M-step; the lower bound is the mean
 *    per-sample log-likelihood computed in the E-step, and EM stops when it
 *    changes by less than `tol` (or after `maxIter` iterations). The returned
 *    parameters are those after the last M-step.
 * Everything is computed in log space in float64 and is fully deterministic.
 */
import { DfkdError } from '../errors';

/** Parameters of a two-component 1-D Gaussian mixture. */
export interface Gmm1dParams {
  means: [number, number];
  variances: [number, number];
  /** Mixing weights; they sum to 1. */
  weights: [number, number];
}

/** Result of {@link fitGmm1d}. */
export interface Gmm1dFit extends Gmm1dParams {
  /** Number of EM iterations performed (1..maxIter). */
  iterations: number;
  /** Whether the lower bound changed by less than `tol` before `maxIter`. */
  converged: boolean;
  /** Mean per-sample log-likelihood from the last E-step (sklearn's `lower_bound_`). */
  lowerBound: number;
}

/**
 * EM initialisation: `'kmeans'` (default; deterministic 1-D 2-means) or
 * explicit starting parameters (e.g. a previous {@link Gmm1dFit} as a warm start).
 */
export type Gmm1dInit = 'kmeans' | Gmm1dParams;

/** Options of {@link fitGmm1d}; defaults match DivideMix's sklearn settings. */
export interface Gmm1dOptions {
  /** Maximum number of EM iterations, integer >= 1 (default 10). */
  maxIter?: number;
  /** Convergence threshold on the change of the lower bound, >= 0 (default 1e-2). */
  tol?: number;
  /** Non-negative regularisation added to each variance (default 5e-4). */
  regCovar?: number;
  /** Initialisation (default `'kmeans'`). */
  init?: Gmm1dInit;
}

/** Options of {@link selectClean}. */
export interface SelectCleanOptions {
  /** Keep a sample when its low-component posterior is strictly greater than this, in [0, 1] (default 0.5). */
  threshold?: number;
  maxIter?: number;
  tol?: number;
  regCovar?: number;
  /**
   * Minimum number of finite losses needed to fit the mixture, integer >= 2
   * (default 4). With fewer finite losses every finite sample is kept and the
   * result is flagged `degenerate`: with at most 3 points a two-component fit
   * puts a single point in a component and carries no statistical evidence.
   */
  minSamples?: number;
}

/** Result of {@link selectClean}. */
export interface SelectCleanResult {
  /** Per sample: 1 = kept (clean), 0 = rejected. */
  mask: Uint8Array;
  /** Per sample posterior of the low-loss component (1 for samples kept by a degenerate rule, 0 for non-finite losses). */
  posterior: Float64Array;
  /** Fraction of the batch that was kept (kept / batch size; 1 for an empty batch). */
  rate: number;
  /** The mixture fitted on the min-max normalised finite losses, or null when no fit was made. */
  fit: Gmm1dFit | null;
  /** True when the mixture was not fitted (too few finite losses, or all finite losses identical). */
  degenerate: boolean;
}

/** Default options (DivideMix / TA-DFKD settings). */
export const GMM_DEFAULTS = Object.freeze({ maxIter: 10, tol: 1e-2, regCovar: 5e-4, threshold: 0.5, minSamples: 4 });

const LOG_2PI = Math.log(2 * Math.PI);
/** sklearn adds 10 * eps to the component counts to avoid division by zero. */
const COUNT_EPS = 10 * Number.EPSILON;

interface EmOptions {
  maxIter: number;
  tol: number;
  regCovar: number;
}

function resolveEmOptions(opts: { maxIter?: number; tol?: number; regCovar?: number }, fn: string): EmOptions {
  const maxIter = opts.maxIter ?? GMM_DEFAULTS.maxIter;
  const tol = opts.tol ?? GMM_DEFAULTS.tol;
  const regCovar = opts.regCovar ?? GMM_DEFAULTS.regCovar;
  if (!Number.isInteger(maxIter) || maxIter < 1) {
    throw new DfkdError(`${fn}: maxIter must be an integer >= 1, got ${maxIter}`, 'EGMM_OPTION');
  }
  if (!(Number.isFinite(tol) && tol >= 0)) {
    throw new DfkdError(`${fn}: tol must be a finite number >= 0, got ${tol}`, 'EGMM_OPTION');
  }
  if (!(Number.isFinite(regCovar) && regCovar >= 0)) {
    throw new DfkdError(`${fn}: regCovar must be a finite number >= 0, got ${regCovar}`, 'EGMM_OPTION');
  }
  return { maxIter, tol, regCovar };
}

/** log(exp(a) + exp(b)) without overflow. */
function logAddExp(a: number, b: number): number {
  const m = a > b ? a : b;
  if (m === -Infinity) return -Infinity;
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** log N(x | mean, variance). */
function logNormal(x: number, mean: number, variance: number): number {
  const d = x - mean;
  return -0.5 * (LOG_2PI + Math.log(variance) + (d * d) / variance);
}

/**
 * Deterministic 1-D 2-means (Lloyd) started at min and max. Returns the hard
 * labels as responsibilities of component 0; ties go to component 0.
 * Constant input yields a 50/50 soft split (both components identical).
 */
function kmeansResponsibilities(x: Float64Array, r0: Float64Array, r1: Float64Array): void {
  const n = x.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (!(hi > lo)) {
    r0.fill(0.5);
    r1.fill(0.5);
    return;
  }
  let c0 = lo;
  let c1 = hi;
  const label = new Uint8Array(n);
  // In 1-D the assignment is a threshold split, so Lloyd terminates quickly;
  // the cap only guards against pathological floating-point cycling.
  for (let iter = 0; iter < 1000; iter++) {
    let changed = iter === 0;
    let s0 = 0, n0 = 0, s1 = 0, n1 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const l = Math.abs(v - c1) < Math.abs(v - c0) ? 1 : 0;
      if (l !== label[i]) {
        label[i] = l;
        changed = true;
      }
      if (l === 0) { s0 += v; n0++; } else { s1 += v; n1++; }
    }
    // Neither cluster can become empty: min stays nearest c0 and max nearest c1.
    const nc0 = s0 / n0;
    const nc1 = s1 / n1;
    if (!changed && nc0 === c0 && nc1 === c1) break;
    c0 = nc0;
    c1 = nc1;
  }
  for (let i = 0; i < n; i++) {
    r0[i] = label[i] === 0 ? 1 : 0;
    r1[i] = 1 - r0[i];
  }
}

/** M-step (sklearn `_estimate_gaussian_parameters` for one feature). */
function mStep(x: Float64Array, r0: Float64Array, r1: Float64Array, regCovar: number): Gmm1dParams {
  const n = x.length;
  let nk0 = 0, nk1 = 0, sx0 = 0, sx1 = 0;
  for (let i = 0; i < n; i++) {
    nk0 += r0[i];
    nk1 += r1[i];
    sx0 += r0[i] * x[i];
    sx1 += r1[i] * x[i];
  }
  nk0 += COUNT_EPS;
  nk1 += COUNT_EPS;
  const m0 = sx0 / nk0;
  const m1 = sx1 / nk1;
  let ss0 = 0, ss1 = 0;
  for (let i = 0; i < n; i++) {
    const d0 = x[i] - m0;
    const d1 = x[i] - m1;
    ss0 += r0[i] * d0 * d0;
    ss1 += r1[i] * d1 * d1;
  }
  const v0 = ss0 / nk0 + regCovar;
  const v1 = ss1 / nk1 + regCovar;
  if (!(v0 > 0 && v1 > 0 && Number.isFinite(v0) && Number.isFinite(v1))) {
    throw new DfkdError(
      `fitGmm1d: ill-defined variance (${v0}, ${v1}); a component collapsed onto a single value — use regCovar > 0`,
      'EGMM_DEGENERATE',
    );
  }
  const total = nk0 + nk1;
  return { means: [m0, m1], variances: [v0, v1], weights: [nk0 / total, nk1 / total] };
}

/** E-step: fills responsibilities and returns the mean log-likelihood. */
function eStep(x: Float64Array, p: Gmm1dParams, r0: Float64Array, r1: Float64Array): number {
  const lw0 = Math.log(p.weights[0]);
  const lw1 = Math.log(p.weights[1]);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const a = lw0 + logNormal(x[i], p.means[0], p.variances[0]);
    const b = lw1 + logNormal(x[i], p.means[1], p.variances[1]);
    const norm = logAddExp(a, b);
    sum += norm;
    r0[i] = Math.exp(a - norm);
    r1[i] = Math.exp(b - norm);
  }
  return sum / x.length;
}

function checkInitParams(p: Gmm1dParams): Gmm1dParams {
  const ok =
    p.means.length === 2 && p.variances.length === 2 && p.weights.length === 2 &&
    p.means.every(Number.isFinite) &&
    p.variances.every((v) => Number.isFinite(v) && v > 0) &&
    p.weights.every((w) => Number.isFinite(w) && w > 0);
  if (!ok) {
    throw new DfkdError(
      'fitGmm1d: init must have 2 finite means, 2 finite variances > 0 and 2 finite weights > 0',
      'EGMM_OPTION',
    );
  }
  const s = p.weights[0] + p.weights[1];
  return {
    means: [p.means[0], p.means[1]],
    variances: [p.variances[0], p.variances[1]],
    weights: [p.weights[0] / s, p.weights[1] / s],
  };
}

/**
 * Fit a two-component 1-D Gaussian mixture by EM (see the module comment for
 * how it mirrors sklearn). Requires at least one sample and only finite values
 * (throws DfkdError otherwise). Constant input gives two identical components
 * (weights 0.5, variance `regCovar`).
 */
export function fitGmm1d(x: ArrayLike<number>, opts: Gmm1dOptions = {}): Gmm1dFit {
  const { maxIter, tol, regCovar } = resolveEmOptions(opts, 'fitGmm1d');
  const n = x.length;
  if (n < 1) throw new DfkdError('fitGmm1d: need at least one sample, got 0', 'EGMM_INPUT');
  const xs = Float64Array.from(x);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i])) {
      throw new DfkdError(`fitGmm1d: sample ${i} is not finite (${xs[i]})`, 'EGMM_INPUT');
    }
  }
  const r0 = new Float64Array(n);
  const r1 = new Float64Array(n);
  const init = opts.init ?? 'kmeans';
  let params: Gmm1dParams;
  if (init === 'kmeans') {
    kmeansResponsibilities(xs, r0, r1);
    params = mStep(xs, r0, r1, regCovar);
  } else if (typeof init === 'object' && init !== null) {
    params = checkInitParams(init);
  } else {
    throw new DfkdError(`fitGmm1d: init must be 'kmeans' or explicit parameters, got ${String(init)}`, 'EGMM_OPTION');
  }

  let lowerBound = -Infinity;
  let converged = false;
  let iterations = 0;
  for (let it = 1; it <= maxIter; it++) {
    const prev = lowerBound;
    lowerBound = eStep(xs, params, r0, r1);
    params = mStep(xs, r0, r1, regCovar);
    iterations = it;
    if (Math.abs(lowerBound - prev) < tol) {
      converged = true;
      break;
    }
  }
  return { ...params, iterations, converged, lowerBound };
}

/** Index (0 or 1) of the component with the lower mean; ties give 0. */
export function lowComponentIndex(fit: Gmm1dParams): 0 | 1 {
  return fit.means[1] < fit.means[0] ? 1 : 0;
}

/**
 * Posterior probability of the lower-mean component for each value
 * (sklearn `predict_proba(x)[:, argmin(means)]`). Non-finite values, or values
 * so extreme that both component densities underflow, give NaN.
 */
export function posteriorLowComponent(x: ArrayLike<number>, fit: Gmm1dParams): Float64Array {
  const low = lowComponentIndex(fit);
  const high = 1 - low;
  const lwLow = Math.log(fit.weights[low]);
  const lwHigh = Math.log(fit.weights[high]);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const a = lwLow + logNormal(v, fit.means[low], fit.variances[low]);
    const b = lwHigh + logNormal(v, fit.means[high], fit.variances[high]);
    const norm = logAddExp(a, b);
    out[i] = Number.isFinite(norm) ? Math.exp(a - norm) : NaN;
  }
  return out;
}

/**
 * Select the "clean" (low-loss) samples of a batch, TA-DFKD / DivideMix style.
 *
 * The finite losses are min-max normalised to [0, 1] over the batch (so the
 * result is invariant to positive affine transforms of the losses), a
 * two-component mixture is fitted with {@link fitGmm1d}, and a sample is kept
 * when its low-mean-component posterior is strictly greater than `threshold`.
 *
 * Degenerate cases (documented behaviour):
 *  - non-finite losses (NaN, ±Infinity) are always rejected (mask 0,
 *    posterior 0) and excluded from the normalisation and the fit;
 *  - fewer than `minSamples` (default 4) finite losses: every finite sample is
 *    kept (posterior 1), `fit` is null and `degenerate` is true;
 *  - all finite losses identical (range 0): likewise keep all finite samples,
 *    `fit` null, `degenerate` true;
 *  - an empty batch gives empty arrays, `rate` 1, `degenerate` true.
 * The result is deterministic.
 */
export function selectClean(losses: ArrayLike<number>, opts: SelectCleanOptions = {}): SelectCleanResult {
  const em = resolveEmOptions(opts, 'selectClean');
  const { threshold, minSamples } = selectionOptions(opts);
  const n = losses.length;
  const mask = new Uint8Array(n);
  const posterior = new Float64Array(n);
  const { finiteIdx, lo, hi } = finiteRange(losses);
  const m = finiteIdx.length;
  if (m < minSamples || !(hi > lo)) {
    for (const i of finiteIdx) {
      mask[i] = 1;
      posterior[i] = 1;
    }
    return { mask, posterior, rate: n === 0 ? 1 : m / n, fit: null, degenerate: true };
  }
  const z = minMaxNormalise(losses, finiteIdx, lo, hi);
  const fit = fitGmm1d(z, em);
  const post = posteriorLowComponent(z, fit);
  let kept = 0;
  for (let j = 0; j < m; j++) {
    const i = finiteIdx[j];
    const p = Number.isNaN(post[j]) ? 0 : post[j];
    posterior[i] = p;
    if (p > threshold) {
      mask[i] = 1;
      kept++;
    }
  }
  return { mask, posterior, rate: kept / n, fit, degenerate: false };
}

/** selectClean's threshold and minSamples, defaulted and validated. */
function selectionOptions(opts: SelectCleanOptions): { threshold: number; minSamples: number } {
  const threshold = opts.threshold ?? GMM_DEFAULTS.threshold;
  const minSamples = opts.minSamples ?? GMM_DEFAULTS.minSamples;
  if (!(Number.isFinite(threshold) && threshold >= 0 && threshold <= 1)) {
    throw new DfkdError(`selectClean: threshold must be in [0, 1], got ${threshold}`, 'EGMM_OPTION');
  }
  if (!Number.isInteger(minSamples) || minSamples < 2) {
    throw new DfkdError(`selectClean: minSamples must be an integer >= 2, got ${minSamples}`, 'EGMM_OPTION');
  }
  return { threshold, minSamples };
}

/** The indices of the finite values and their minimum and maximum (Infinity / -Infinity when none). */
function finiteRange(x: ArrayLike<number>): { finiteIdx: number[]; lo: number; hi: number } {
  const finiteIdx: number[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) continue;
    finiteIdx.push(i);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { finiteIdx, lo, hi };
}

/** The values at `idx` min-max normalised to [0, 1] with their range [lo, hi] (hi > lo); halved first if the range overflows. */
function minMaxNormalise(x: ArrayLike<number>, idx: number[], lo: number, hi: number): Float64Array {
  let range = hi - lo;
  let scale = 1;
  if (!Number.isFinite(range)) {
    scale = 0.5;
    range = hi * 0.5 - lo * 0.5;
  }
  const loS = lo * scale;
  const z = new Float64Array(idx.length);
  for (let j = 0; j < idx.length; j++) z[j] = Math.min(1, Math.max(0, ((x[idx[j]] as number) * scale - loS) / range));
  return z;
}

/**
 * Central-finite-difference gradient checking in float64 for the engine tests.
 *
 * The output of `fn` is reduced to a scalar with a fixed (seeded) random projection,
 * L = sum(fn(...inputs) * R), so non-scalar outputs are checked along a generic direction.
 * Analytic gradients of L come from backward(); numeric ones from (L(x + eps e_j) - L(x - eps e_j)) / 2eps
 * for every element j of every input that requires grad. Inputs are rebuilt from their values for
 * each perturbation, so `fn` may be any pure function of its inputs (it may reseed the generator to
 * make stochastic ops repeatable).
 */
import { Tensor, tensor, tidy, noGrad } from '../../src/tensor';

export interface GradcheckOptions {
  /** Perturbation half-width (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance, relative to |numeric| (default 1e-4). */
  rtol?: number;
  /** Seed of the projection R (default 1234). */
  seed?: number;
}

export interface GradcheckReport {
  /** Number of gradient elements compared. */
  checked: number;
  /** Largest |analytic - numeric| seen. */
  maxAbsDiff: number;
}

/** A small deterministic PRNG (mulberry32); keeps the engine's global generator untouched. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function projection(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const rnd = mulberry32(seed);
  const r = new Float64Array(n);
  // Values in [-1.5, -0.5] U [0.5, 1.5]: no element of the output is (nearly) ignored.
  for (let i = 0; i < n; i++) r[i] = (rnd() < 0.5 ? -1 : 1) * (0.5 + rnd());
  return tensor(r, shape, 'float64');
}

/**
 * Checks the analytic gradient of `fn` against central finite differences.
 * Every input must be float64; the inputs with requiresGrad are checked, the others are held fixed.
 * Throws an Error naming the input index, the element index and both values on the first mismatch.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-4;
  const seed = opts.seed ?? 1234;

  return tidy(() => {
    inputs.forEach((x, i) => {
      if (x.dtype !== 'float64') throw new Error(`gradcheck: input ${i} must be float64, got ${x.dtype}`);
    });
    const checkedIdx = inputs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
    if (checkedIdx.length === 0) throw new Error('gradcheck: no input requires grad');
    const shapes = inputs.map((x) => x.shape);
    const values = inputs.map((x) => x.toFloat64Array());

    // ---- analytic gradients on fresh leaves
    const leaves = inputs.map((x, i) => {
      const t = tensor(values[i].slice(), shapes[i], 'float64');
      if (x.requiresGrad) t.requiresGrad_(true);
      return t;
    });
    const out = fn(...leaves);
    if (!(out instanceof Tensor)) throw new Error('gradcheck: fn must return a Tensor');
    if (out.dtype !== 'float64') throw new Error(`gradcheck: fn returned ${out.dtype}, expected float64 (compute in float64)`);
    if (!out.requiresGrad) throw new Error('gradcheck: the output does not require grad (no input reaches it through differentiable ops)');
    const outShape = out.shape;
    const R = projection(outShape, seed);
    out.mul(R).sum().backward();
    const analytic = checkedIdx.map((i) => {
      const g = leaves[i].grad;
      return g === undefined ? new Float64Array(values[i].length) : g.toFloat64Array();
    });

    // ---- numeric gradients
    const evaluate = (which: number, arr: Float64Array): number =>
      tidy(() =>
        noGrad(() => {
          const ts = inputs.map((_, i) => tensor(i === which ? arr : values[i], shapes[i], 'float64'));
          const o = fn(...ts);
          if (o.shape.join(',') !== outShape.join(',')) {
            throw new Error(`gradcheck: output shape changed between evaluations: [${outShape}] then [${o.shape}]`);
          }
          return o.mul(R).sum().item();
        }),
      );

    let checked = 0;
    let maxAbsDiff = 0;
    checkedIdx.forEach((i, k) => {
      const base = values[i];
      const a = analytic[k];
      for (let j = 0; j < base.length; j++) {
        const p = base.slice();
        p[j] = base[j] + eps;
        const fp = evaluate(i, p);
        p[j] = base[j] - eps;
        const fm = evaluate(i, p);
        const num = (fp - fm) / (2 * eps);
        const diff = Math.abs(a[j] - num);
        if (!Number.isFinite(a[j]) || !Number.isFinite(num) || diff > atol + rtol * Math.abs(num)) {
          throw new Error(
            `gradcheck: gradient mismatch for input ${i} (shape [${shapes[i]}]) at element ${j}: ` +
              `analytic ${a[j]} vs numeric ${num} (|diff| ${diff.toExponential(3)} > atol ${atol} + rtol ${rtol} * |numeric|)`,
          );
        }
        maxAbsDiff = Math.max(maxAbsDiff, diff);
        checked++;
      }
    });
    return { checked, maxAbsDiff };
  });
}

/**
 * Probe trust: how well a student agrees with its teacher on a probe set that no distillation method
 * trained on, synthesised from the teacher alone.
 *
 * Why: the signals of signals.ts are measured on fresh samples of the run's OWN synthesizer. A method
 * whose generator makes easy, class-prior samples (DAFL) gets a student that agrees with the teacher
 * there and still fails on real data, so those signals rank runs of one method but mislead across
 * methods (the first cells of the committed study showed exactly that). The probe is shared by every
 * student of a teacher, so agreement on it compares methods on the same inputs.
 *
 * The probe is made by model inversion (inversion.ts, the DeepInversion method's synthesis step):
 * random images optimised with Adam so that the teacher classifies them as balanced target labels
 * (i mod K) while the statistics of every BatchNorm layer's input match that layer's running
 * statistics, with small total-variation and L2 priors. It needs the teacher only: no real data. It is seeded and does not disturb the caller's
 * random state.
 */
import { Tensor, Device, tidy, noGrad, randn, rand, tensor, keep, cat, getRngState, setRngState, manualSeed } from '../tensor';
import type { Classifier } from '../models/registry';
import { BNStatsHook } from './bn-hook';
import { invertImages, type InversionOptions, type InversionSchedule } from './inversion';

export interface ProbeOptions {
  /** Probe images (default 1024). */
  n: number;
  /** Adam steps per batch of images (default 200). */
  steps: number;
  /** Images optimised together (default 128). */
  batchSize: number;
  lr: number;
  bnWeight: number;
  tvWeight: number;
  l2Weight: number;
  seed: number;
  /** DeepInversion's jitter during the inversion (pixels of random roll; 0 or absent: none). */
  jitter?: number;
  /** With jitter: random horizontal flips. */
  flip?: boolean;
  /** The inversion's learning-rate schedule (default constant). */
  lrSchedule?: InversionSchedule;
  /**
   * Share of each batch (its first rows) inverted toward a two-class soft target instead of a one-hot one:
   * lambda on the image's class a (i mod K) and 1 - lambda on a neighbouring class b, lambda uniform in
   * [0.5, 1), b drawn by the similarity of the teacher's last-layer weights (boundaryTargets). Absent: none.
   */
  boundary?: number;
  /** Where the images are made (the teacher's device); default the CPU. */
  device?: Device;
}

/** The fields of `o` that are not undefined (so that `{steps: undefined}` keeps the default). */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Default probe. The jitter (roll up to 2 pixels + flip at every inversion step, DeepInversion's) makes
 * probe images that other networks read as the teacher does, so a student's agreement on them follows
 * its real accuracy more closely: over the 36 cells of each of three converged studies, Spearman 0.682 ->
 * 0.799, 0.679 -> 0.799 and 0.616 -> 0.758 with 512 images; 1,024 images (the first 512 are the same)
 * make the score less noisy: 0.812, 0.812 and 0.773 (`node scripts/probe-variants.js`, docs/trust.md).
 */
export const PROBE_DEFAULTS: ProbeOptions = { n: 1024, steps: 200, batchSize: 128, lr: 0.1, bnWeight: 10, tvWeight: 1.5e-5, l2Weight: 1e-5, seed: 12345, jitter: 2, flip: true };

/** The inversion settings of a probe recipe (its steps, rate, loss weights, jitter and schedule). */
export function probeInversion(o: ProbeOptions): InversionOptions {
  const weights = { ce: 1, bn: o.bnWeight, tv: o.tvWeight, l2: o.l2Weight };
  return { steps: o.steps, lr: o.lr, weights, jitter: o.jitter, flip: o.flip, lrSchedule: o.lrSchedule };
}

/** Synthesises a probe set of normalised images [n, C, H, W] from the teacher alone. */
export function synthesizeProbe(teacher: Classifier, shape: { channels: number; imageSize: number; numClasses: number }, o: Partial<ProbeOptions> = {}): Tensor {
  const opts: ProbeOptions = { ...PROBE_DEFAULTS, ...definedOnly(o) };
  const saved = getRngState();
  const dev = opts.device;
  const savedDev = dev && dev !== 'cpu' ? getRngState(dev) : undefined;
  const wasTraining = teacher.training;
  teacher.eval();
  const hook = new BNStatsHook(teacher);
  const parts: Tensor[] = [];
  let partners: number[][] | undefined;
  try {
    manualSeed(opts.seed);
    for (let start = 0; start < opts.n; start += opts.batchSize) {
      const b = Math.min(opts.batchSize, opts.n - start);
      const x = keep(randn([b, shape.channels, shape.imageSize, shape.imageSize], 'float32', dev).requiresGrad_(true));
      const labels = Int32Array.from({ length: b }, (_, i) => (start + i) % shape.numClasses);
      const soft = opts.boundary ? Math.round(opts.boundary * b) : 0;
      const y = keep(soft > 0 ? boundaryTargets(labels, soft, partners ??= partnerProbs(teacher, shape.numClasses), dev) : tensor(labels, [b], 'int64', dev));
      try {
        invertImages(teacher, hook, x, y, probeInversion(opts));
        parts.push(keep(x.detach().clone()));
      } finally {
        x.dispose();
        y.dispose();
      }
    }
    return tidy(() => cat(parts, 0));
  } finally {
    for (const p of parts) p.dispose();
    hook.remove();
    teacher.train(wasTraining);
    setRngState(saved);
    if (savedDev) setRngState(savedDev, dev);
  }
}

/**
 * For each class a, the probability of each other class b as its boundary partner: proportional to the
 * positive part of the cosine similarity of the teacher's last-layer weight rows w_a, w_b (classes the
 * teacher separates with similar directions), uniform over b != a when no similarity is positive or the
 * teacher's last layer has no weight [K, D].
 */
export function partnerProbs(teacher: Classifier, k: number): number[][] {
  const rows = lastLayerRows(teacher, k);
  return Array.from({ length: k }, (_, a) => {
    const sim = Array.from({ length: k }, (_, b) => (b === a ? 0 : rows ? Math.max(0, cosine(rows[a], rows[b])) : 1));
    const total = sim.reduce((x, y) => x + y, 0);
    return total > 0 ? sim.map((v) => v / total) : sim.map((_, b) => (b === a ? 0 : 1 / (k - 1)));
  });
}

/** The rows of the teacher's last-layer weight [K, D], or undefined when its last layer has none of that shape. */
function lastLayerRows(teacher: Classifier, k: number): Float32Array[] | undefined {
  const w = (teacher.featureLayer as { weight?: Tensor }).weight;
  if (!w || w.shape.length !== 2 || w.shape[0] !== k) return undefined;
  const all = noGrad(() => w.toFloat32Array());
  const d = w.shape[1];
  return Array.from({ length: k }, (_, i) => all.subarray(i * d, (i + 1) * d));
}

function cosine(u: Float32Array, v: Float32Array): number {
  let uv = 0;
  let uu = 0;
  let vv = 0;
  for (let j = 0; j < u.length; j++) {
    uv += u[j] * v[j];
    uu += u[j] * u[j];
    vv += v[j] * v[j];
  }
  return uv / Math.sqrt(uu * vv + 1e-30);
}

/**
 * Probability targets [N, K] for an inversion batch: the first `soft` rows lambda on their class and
 * 1 - lambda on a partner class (lambda uniform in [0.5, 1), the partner drawn from `partners`), the
 * others one-hot. Draws 2 x soft uniforms from the engine RNG.
 */
export function boundaryTargets(labels: Int32Array, soft: number, partners: number[][], device?: Device): Tensor {
  const k = partners.length;
  const u = noGrad(() => rand([2, soft]).toFloat32Array());
  const y = new Float32Array(labels.length * k);
  labels.forEach((a, i) => {
    if (i >= soft) return void (y[i * k + a] = 1);
    const lambda = 0.5 + 0.5 * u[i];
    const b = drawIndex(partners[a], u[soft + i]);
    y[i * k + a] += lambda;
    y[i * k + b] += 1 - lambda;
  });
  return tensor(y, [labels.length, k], 'float32', device);
}

/** The index that a uniform u in [0, 1) draws from the distribution p: the first whose cumulative sum exceeds u (by rounding, else the last with mass). */
function drawIndex(p: number[], u: number): number {
  let acc = 0;
  for (let b = 0; b < p.length; b++) {
    acc += p[b];
    if (u < acc) return b;
  }
  let last = p.length - 1;
  while (last > 0 && p[last] === 0) last--;
  return last;
}

export interface ProbeSignals {
  /** Top-1 agreement of student and teacher on the probe, in [0, 1]: the probe trust score. */
  probeAgreement: number;
  /** Mean |S(x) - T(x)| over probe samples and classes. */
  probeLogitDistance: number;
  /** Fraction of probe images the teacher assigns to their target class (how well the inversion worked). */
  probeTargetHit: number;
  n: number;
}

/** Agreement of student and teacher on a probe set (both in eval mode; no gradients). */
export function probeSignals(teacher: Classifier, student: Classifier, probe: Tensor, numClasses: number): ProbeSignals {
  const tWas = teacher.training;
  const sWas = student.training;
  teacher.eval();
  student.eval();
  try {
    return tidy(() =>
      noGrad(() => {
        const n = probe.shape[0];
        const t = teacher.call(probe);
        const s = student.call(probe);
        const tp = t.argmax(1);
        const target = tensor(Int32Array.from({ length: n }, (_, i) => i % numClasses), [n], 'int64');
        return {
          probeAgreement: s.argmax(1).eq(tp).float().mean().item(),
          probeLogitDistance: s.sub(t).abs().mean().item(),
          probeTargetHit: tp.eq(target).float().mean().item(),
          n,
        };
      }),
    );
  } finally {
    teacher.train(tWas);
    student.train(sWas);
  }
}

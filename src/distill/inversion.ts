/**
 * Model inversion (DeepInversion, Yin et al. 2020): images optimised with Adam so that a frozen
 * teacher classifies them as given labels while the statistics of every BatchNorm layer's input match
 * that layer's running statistics, with total-variation and L2 image priors. Used by the DeepInversion
 * method (its synthesis step) and by the probe set of probe trust (probe.ts).
 */
import { Tensor, tidy, F, cat, randint } from '../tensor';
import { Adam, CosineLR } from '../optim';
import type { Classifier } from '../models/registry';
import type { BNStatsHook } from './bn-hook';
import * as L from './losses';

/** The learning-rate schedule of an inversion's Adam steps. */
export type InversionSchedule = 'constant' | 'cosine';

export interface InversionOptions {
  /** Adam steps on the images. */
  steps: number;
  lr: number;
  /** Weights of the loss terms: cross-entropy to the labels, BN statistics, total variation, L2. */
  weights: { ce: number; bn: number; tv: number; l2: number };
  /**
   * DeepInversion's jitter: each step the teacher sees the batch rolled by a random offset of up to
   * this many pixels in each direction (one offset per batch), so evidence tied to exact pixel
   * positions does not pay. Absent or 0: none.
   */
  jitter?: number;
  /** With jitter: a random horizontal flip of the whole batch each step (DeepInversion's). */
  flip?: boolean;
  /** 'cosine': the learning rate decays from `lr` to 0 over the steps (DeepInversion's cosine policy, without its warm-up); default constant. */
  lrSchedule?: InversionSchedule;
  /**
   * DeepInversion's adaptive competition (ADI): weight x (1 - JS(S(x), T(x))) on the same view, the JS of
   * the temperature-3 softmaxes summed over classes and averaged over the batch, with `student` frozen in
   * its current mode. Pushes the images toward where the student disagrees with the teacher. Absent: none.
   */
  competition?: { student: Classifier; weight: number };
}

/** `x` [N,C,H,W] rolled by (dy, dx) pixels (wrapping around), as torch.roll on dims 2 and 3. */
export function roll2d(x: Tensor, dy: number, dx: number): Tensor {
  const rollDim = (t: Tensor, dim: number, k: number): Tensor => {
    const n = t.shape[dim];
    const s = ((k % n) + n) % n;
    return s === 0 ? t : cat([t.narrow(dim, n - s, s), t.narrow(dim, 0, n - s)], dim);
  };
  return rollDim(rollDim(x, 2, dy), 3, dx);
}

/** The teacher's view of `x` in one inversion step: rolled and flipped at random with jitter, else x. */
function jittered(x: Tensor, o: InversionOptions): Tensor {
  if (!o.jitter) return x;
  const r = randint(0, 2 * o.jitter + 1, [3]).toInt32Array();
  const v = roll2d(x, r[0] - o.jitter, r[1] - o.jitter);
  return o.flip && r[2] % 2 === 1 ? v.flip([3]) : v;
}

/** The loss terms of the last inversion step. */
export interface InversionLog {
  loss_g: number;
  ce: number;
  bn: number;
  tv: number;
  /** The competition term (1 - JS) when there is one. */
  adi?: number;
}

/**
 * Optimises `x` (a leaf tensor with requiresGrad, updated in place) for `o.steps` Adam steps
 * (betas 0.5/0.99) against `teacher`, whose BatchNorm layers `hook` observes. Returns the loss terms
 * of the last step (undefined when `o.steps` is 0). Draws random numbers only for the jitter.
 */
export function invertImages(teacher: Classifier, hook: BNStatsHook, x: Tensor, y: Tensor, o: InversionOptions): InversionLog | undefined {
  const w = o.weights;
  const opt = new Adam([x], { lr: o.lr, betas: [0.5, 0.99] });
  const sched = o.lrSchedule === 'cosine' && o.steps > 0 ? new CosineLR(opt, o.steps) : undefined;
  let log: InversionLog | undefined;
  try {
    for (let k = 0; k < o.steps; k++) {
      tidy(() => {
        const view = jittered(x, o);
        const { result: t, loss: bn } = hook.capture(() => teacher.call(view));
        const ce = F.crossEntropy(t, y);
        const tv = L.totalVariation(x);
        const l2 = L.l2Prior(x);
        let loss = ce.mul(w.ce).add(bn.mul(w.bn)).add(tv.mul(w.tv)).add(l2.mul(w.l2));
        const c = o.competition;
        const adi = c ? L.jsAdversarial(c.student.call(view), t, 3, 'batchmean') : undefined;
        if (c && adi) loss = loss.add(adi.mul(c.weight));
        opt.zeroGrad();
        loss.backward();
        opt.step();
        sched?.step();
        if (k === o.steps - 1) log = { loss_g: loss.item(), ce: ce.item(), bn: bn.item(), tv: tv.item(), ...(adi ? { adi: adi.item() } : {}) };
      });
    }
  } finally {
    opt.dispose();
  }
  return log;
}

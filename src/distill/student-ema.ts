/**
 * An exponential moving average of the student's weights (`studentEma`), bias-corrected as Adam's moments
 * are: after n student steps each floating-point tensor is sum_i decay^(n-i) s_i / sum_i decay^(n-i), the
 * student's weights after every step so far weighted by decay^age, with no weight left on the initial
 * ones. Recursively e <- d e + (1 - d) s with d = 1 - (1 - decay) / (1 - decay^n) at the n-th update (0 at
 * the first: the average starts as the student). BatchNorm running statistics are averaged the same way;
 * integer buffers (num_batches_tracked) are copied. The average never trains: it is what the run
 * evaluates and delivers.
 */
import { noGrad, type Tensor } from '../tensor';
import type { Classifier } from '../models/registry';

function isFloat(t: Tensor): boolean {
  return t.dtype === 'float32' || t.dtype === 'float64';
}

export class StudentEma {
  /** Updates made so far (kept in checkpoints: the bias correction depends on it). */
  steps = 0;

  /** `model` is a second instance of the student's architecture; it takes the student's weights now. */
  constructor(
    readonly model: Classifier,
    readonly decay: number,
    student: Classifier,
  ) {
    model.eval();
    model.requiresGrad_(false);
    model.loadStateDict(student.stateDict(), { origin: 'the student' });
  }

  /** The decay the next (the n-th) update uses: 1 - (1 - decay) / (1 - decay^n). */
  currentDecay(): number {
    return 1 - (1 - this.decay) / (1 - Math.pow(this.decay, this.steps + 1));
  }

  /** One update towards the student's current weights and buffers. */
  update(student: Classifier): void {
    const d = this.currentDecay();
    const src = student.stateDict();
    noGrad(() => {
      for (const [k, e] of this.model.stateDict()) {
        const s = src.get(k)!;
        if (isFloat(e)) e.mul_(d).add_(s, 1 - d);
        else e.copy_(s);
      }
    });
    this.steps += 1;
  }

  /** The averaged tensors by name (live references: a checkpoint copies them when it writes). */
  state(): Map<string, Tensor> {
    return this.model.stateDict();
  }

  /** Restores the average and its update count from a checkpoint. */
  load(t: Map<string, Tensor>, steps: number): void {
    this.model.loadStateDict(t, { origin: 'checkpoint (student average)' });
    this.steps = steps;
  }

  dispose(): void {
    this.model.dispose();
  }
}

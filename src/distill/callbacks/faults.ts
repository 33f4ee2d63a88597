/**
 * Fault injection for tests (never used by the CLI): replaces a loss term of the first student step of
 * an iteration with NaN, or fills the student's first parameter with NaN after that iteration's steps.
 */
import { noGrad } from '../../tensor';
import type { StepLog } from '../method';
import type { Callback, StepKind, TrainContext, TrainState } from '../trainer';

export interface FaultSpec {
  /** The iteration whose first student step (or, for 'weights', whose steps) are hit. */
  iteration: number;
  /** A loss term of the student step (default 'loss_s'), or 'weights'. */
  term?: string;
  /** How many times (default 1; a rollback replays the iteration). */
  times?: number;
}

export class FaultInjection implements Callback {
  private left: number;
  constructor(private readonly spec: FaultSpec) {
    this.left = spec.times ?? 1;
  }
  private due(s: TrainState, weights: boolean): boolean {
    return this.left > 0 && this.spec.iteration === s.iteration && ((this.spec.term ?? 'loss_s') === 'weights') === weights;
  }
  afterStep(_c: TrainContext, s: TrainState, kind: StepKind, k: number, log: StepLog): void {
    if (kind !== 'student' || k !== 0 || !this.due(s, false)) return;
    this.left -= 1;
    log[this.spec.term ?? 'loss_s'] = NaN;
  }
  afterSteps(c: TrainContext, s: TrainState): void {
    if (!this.due(s, true)) return;
    this.left -= 1;
    noGrad(() => c.student.parameters()[0].fill_(NaN));
  }
}

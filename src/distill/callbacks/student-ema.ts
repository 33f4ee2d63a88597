/** Moves the student's weight average (`studentEma`) after every student step. */
import type { StepLog } from '../method';
import type { Callback, StepKind, TrainContext, TrainState } from '../trainer';

export class StudentEmaUpdate implements Callback {
  afterStep(c: TrainContext, _s: TrainState, kind: StepKind, _k: number, _log: StepLog): void {
    if (kind === 'student') c.ema?.update(c.student);
  }
}

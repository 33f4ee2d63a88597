/** Moves the student's weight average (`studentEma`) after every student step. */
import type { Callback, StepKind, TrainContext, TrainState } from '../trainer';

export class StudentEmaUpdate implements Callback {
  afterStep(c: TrainContext, _s: TrainState, kind: StepKind): void {
    if (kind === 'student') c.ema?.update(c.student);
  }
}

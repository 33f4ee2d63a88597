/** Progress: tells a listener (the CLI's progress bar, the study) about every iteration; and a test hook. */
import type { StepLog } from '../method';
import type { Callback, TrainContext, TrainState } from '../trainer';

export interface ProgressEvent {
  iteration: number;
  iterations: number;
  log: StepLog;
  selectionRate: number;
}

export class Progress implements Callback {
  constructor(private readonly listener: (p: ProgressEvent) => void) {}
  afterIteration(c: TrainContext, s: TrainState): void {
    this.listener({ iteration: s.iteration, iterations: c.cfg.iterations, log: s.lastStudentLog, selectionRate: s.extra.selection_rate ?? NaN });
  }
}

/** Calls `fn` with the iteration after all other end-of-iteration callbacks (tests: stop or inspect). */
export class AfterIteration implements Callback {
  constructor(private readonly fn: (iteration: number) => void) {}
  afterIteration(_c: TrainContext, s: TrainState): void {
    this.fn(s.iteration);
  }
}

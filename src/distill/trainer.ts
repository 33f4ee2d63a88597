/**
 * The trainer: one loop shared by every method. Per iteration it runs `studentSteps` student steps and
 * `generatorSteps` generator steps of the method, steps the learning-rate schedule and hands over to the
 * callbacks (src/distill/callbacks/), which do everything else at named points, in their order:
 *   beforeTrain    restore a checkpoint (resume)
 *   afterStep      after each student or generator step (NaN guard, fault injection)
 *   afterSteps     after all steps of an iteration (weight check)
 *   onFault        a step threw: a callback may roll back (returns the iteration to continue after)
 *   afterIteration evaluation, collapse detector, log, early stop, sample grids, checkpoints, progress
 *   afterYield     after yielding to the event loop (a stop request checkpoints and stops)
 * A callback ends the run early by setting `state.exit`.
 */
import type { LRScheduler } from '../optim';
import type { Device } from '../tensor';
import type { Classifier } from '../models/registry';
import type { DatasetTensors } from '../data/tensors';
import type { DistillConfig } from './config';
import type { DistillMethod, StepLog } from './method';
import type { TrustSignals } from './signals';
import type { StudentEma } from './student-ema';
import { nowSeconds } from '../util';

export interface EvalPoint {
  iteration: number;
  time: number;
  /** Accuracy of the delivered student: the weight average when `studentEma` is set. */
  testAccuracy: number;
  /** With `studentEma`: the accuracy of the student's own (last) weights, for comparison. */
  rawAccuracy?: number;
  selectionRate: number;
  losses: Record<string, number>;
  signals?: TrustSignals;
  lr: number;
  /** Reasons the collapse detector gave at this evaluation (absent when it did not fire). */
  collapse?: string[];
}

/** What the loop and its callbacks work on. */
export interface TrainContext {
  cfg: DistillConfig;
  runDir: string;
  /** The run's identity (recorded in checkpoints). */
  configHash: string;
  teacher: Classifier;
  student: Classifier;
  /** The average of the student's weights (`studentEma`), which is evaluated and delivered instead. */
  ema?: StudentEma;
  method: DistillMethod;
  sched: LRScheduler;
  /** Real test data: only to report accuracy, never to train, select or stop. */
  test: DatasetTensors;
  numClasses: number;
  /** Where the models live (undefined: CPU). */
  device: Device | undefined;
  warn: (msg: string) => void;
}

/** Why the loop ended before `iterations`: a stop request (resumable) or the data-free stopping rule. */
export type TrainExit = { kind: 'stopped' } | { kind: 'early'; stop: { iteration: number; reason: string } };

export interface TrainState {
  iteration: number;
  history: EvalPoint[];
  /** Step logs since the last evaluation. */
  pending: StepLog[];
  lastStudentLog: StepLog;
  /** Extra logs of the method at this iteration (e.g. selection_rate). */
  extra: StepLog;
  /** The evaluation made at this iteration, if any (set by the evaluation callback). */
  evalPoint?: EvalPoint;
  /** --on-nan rollback: rollbacks so far and the factor applied to every learning rate. */
  rollbacks: number;
  lrScale: number;
  /** Wall time of earlier sessions of this run (restored on resume). */
  elapsedBefore: number;
  clock0: number;
  exit?: TrainExit;
}

/** The model a run evaluates and delivers: the weight average when there is one, else the student. */
export function deliveredStudent(c: Pick<TrainContext, 'student' | 'ema'>): Classifier {
  return c.ema?.model ?? c.student;
}

export function elapsed(s: TrainState): number {
  return s.elapsedBefore + (nowSeconds() - s.clock0);
}

export type StepKind = 'student' | 'generator';

export interface Callback {
  beforeTrain?(c: TrainContext, s: TrainState): void;
  afterStep?(c: TrainContext, s: TrainState, kind: StepKind, k: number, log: StepLog): void;
  afterSteps?(c: TrainContext, s: TrainState): void;
  /** Handles an error of a step; returns the iteration to continue after, or undefined (rethrow). */
  onFault?(c: TrainContext, s: TrainState, e: unknown): number | undefined;
  afterIteration?(c: TrainContext, s: TrainState): void;
  afterYield?(c: TrainContext, s: TrainState): void;
}

export function initialState(): TrainState {
  return { iteration: 0, history: [], pending: [], lastStudentLog: {}, extra: {}, rollbacks: 0, lrScale: 1, elapsedBefore: 0, clock0: nowSeconds() };
}

/** One iteration's steps; each log goes through the afterStep callbacks. */
function steps(c: TrainContext, s: TrainState, cbs: Callback[]): void {
  for (let k = 0; k < c.cfg.studentSteps; k++) {
    const l = c.method.studentStep();
    for (const cb of cbs) cb.afterStep?.(c, s, 'student', k, l);
    s.pending.push(l);
    s.lastStudentLog = l;
  }
  for (let k = 0; k < c.cfg.generatorSteps; k++) {
    const l = c.method.generatorStep();
    for (const cb of cbs) cb.afterStep?.(c, s, 'generator', k, l);
    s.pending.push(l);
  }
  for (const cb of cbs) cb.afterSteps?.(c, s);
}

function recover(c: TrainContext, s: TrainState, cbs: Callback[], e: unknown): number {
  for (const cb of cbs) {
    const back = cb.onFault?.(c, s, e);
    if (back !== undefined) return back;
  }
  throw e;
}

/** Runs the loop from the state's iteration to cfg.iterations; returns the state (its `exit` says why it ended). */
export async function train(c: TrainContext, cbs: Callback[], s: TrainState = initialState()): Promise<TrainState> {
  for (const cb of cbs) cb.beforeTrain?.(c, s);
  s.clock0 = nowSeconds();
  if (s.iteration === 0) {
    const w = c.method.warmup();
    if (w) s.pending.push(w);
  }
  for (s.iteration += 1; s.iteration <= c.cfg.iterations; s.iteration++) {
    s.evalPoint = undefined;
    try {
      steps(c, s, cbs);
    } catch (e) {
      s.iteration = recover(c, s, cbs, e);
      continue;
    }
    c.sched.step();
    s.extra = c.method.extraLogs();
    if (Object.keys(s.extra).length > 0) s.pending.push(s.extra);
    for (const cb of cbs) {
      cb.afterIteration?.(c, s);
      if (s.exit) return s;
    }
    await new Promise<void>((r) => setImmediate(r));
    for (const cb of cbs) {
      cb.afterYield?.(c, s);
      if (s.exit) return s;
    }
  }
  s.iteration = c.cfg.iterations;
  return s;
}

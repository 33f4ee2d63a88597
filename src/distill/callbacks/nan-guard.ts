/**
 * The NaN guard: every loss term of every step and, after the steps of an iteration, every
 * floating-point tensor of the student and the synthesizer must be finite. A non-finite value stops the
 * run with a NumericalFault naming the term or tensor and the last good checkpoint; with the
 * `nan.policy` 'rollback' the guard instead restores that checkpoint and lowers every learning rate.
 */
import { tidy } from '../../tensor';
import { DfkdError } from '../../errors';
import type { DistillConfig } from '../config';
import type { StepLog } from '../method';
import { latestCheckpointInfo, loadLatestCheckpoint } from '../checkpoint';
import { writeRunLog } from '../../io/run-dir';
import type { Callback, EvalPoint, StepKind, TrainContext, TrainState } from '../trainer';
import { restoreCheckpoint } from './checkpoints';

/** A non-finite loss term or weight (code 'ENAN'); `what` names the term or tensor. */
export class NumericalFault extends DfkdError {
  constructor(message: string, readonly what: string, readonly iteration: number) {
    super(message, 'ENAN');
  }
}

/** The stop message: what went wrong, where, and the last good checkpoint to continue from. */
function faultMessage(what: string, iteration: number, runDir: string, cfg: DistillConfig, prefix = ''): string {
  const ck = latestCheckpointInfo(runDir);
  const where = ck
    ? `The last good checkpoint is '${ck.file}' (iteration ${ck.iteration}); continue from it with 'dfkd distill --resume ${runDir} --on-nan rollback' (restores it and lowers the learning rate)`
    : `No checkpoint had been written yet (the first is at iteration ${cfg.checkpointEvery}); rerun with a lower learning rate`;
  return `${prefix}non-finite ${what} at iteration ${iteration}; the run stopped. ${where}`;
}

function fault(c: TrainContext, what: string, iteration: number): NumericalFault {
  return new NumericalFault(faultMessage(what, iteration, c.runDir, c.cfg), what, iteration);
}

/** Sets every learning rate to its scheduled (student) or configured (synthesizer) value times the state's lrScale. */
export function applyLrScale(c: TrainContext, s: TrainState): Record<string, number> {
  if (s.lrScale === 1) return {};
  c.method.studentOpt.lr = c.sched.lrAt(c.sched.lastEpoch) * s.lrScale;
  return c.method.scaleLearningRates(s.lrScale);
}

export class NanGuard implements Callback {
  afterStep(c: TrainContext, s: TrainState, kind: StepKind, _k: number, log: StepLog): void {
    for (const [k, v] of Object.entries(log)) {
      if (!Number.isFinite(v)) throw fault(c, `${kind} loss term '${k}' (${v})`, s.iteration);
    }
  }

  /** One isfinite().all() reduction per floating-point tensor of the student and the synthesizer's weights. */
  afterSteps(c: TrainContext, s: TrainState): void {
    const sets: [string, Map<string, import('../../tensor').Tensor>][] = [['student', c.student.stateDict()], ['synthesizer', c.method.synthWeights()]];
    for (const [owner, tensors] of sets) {
      for (const [name, t] of tensors) {
        if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
        if (!tidy(() => t.isfinite().all())) throw fault(c, `${owner} weights in tensor '${name}'`, s.iteration);
      }
    }
  }

  /** --on-nan rollback: restore the last checkpoint, lower the learning rates; the iteration to continue after. */
  onFault(c: TrainContext, s: TrainState, e: unknown): number | undefined {
    const policy = c.cfg.nan;
    if (!(e instanceof NumericalFault) || !policy || policy.policy !== 'rollback') return undefined;
    if (s.rollbacks >= policy.maxRollbacks) {
      throw new NumericalFault(faultMessage(e.what, e.iteration, c.runDir, c.cfg, `gave up after ${s.rollbacks} rollback(s) (nan.maxRollbacks): `), e.what, e.iteration);
    }
    const ck = loadLatestCheckpoint(c.runDir, c.warn);
    if (!ck) return undefined;
    try {
      restoreCheckpoint(c, ck.tensors, ck.meta);
    } finally {
      for (const t of ck.tensors.values()) t.dispose();
    }
    c.method.extraLogs(); // drop what the failed iteration gathered
    s.history = (ck.meta.history as EvalPoint[]) ?? [];
    writeRunLog(c.runDir, s.history);
    s.pending = [];
    s.rollbacks += 1;
    s.lrScale *= policy.lrFactor;
    const synth = Object.entries(applyLrScale(c, s))
      .map(([k, v]) => `, ${k} lr ${v.toPrecision(3)}`)
      .join('');
    c.warn(
      `non-finite ${e.what} at iteration ${e.iteration}: rolled back to checkpoint '${ck.file}' (iteration ${ck.iteration}) ` +
        `and scaled the learning rates by ${s.lrScale.toPrecision(3)} (student lr ${c.method.studentOpt.lr.toPrecision(3)}${synth}); rollback ${s.rollbacks} of at most ${policy.maxRollbacks}`,
    );
    return ck.iteration;
  }

  afterIteration(c: TrainContext, s: TrainState): void {
    if (s.lrScale !== 1) applyLrScale(c, s);
  }
}

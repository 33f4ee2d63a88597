/**
 * Evaluation callbacks, run in this order at every `eval.every`-th iteration (and the last):
 *   Evaluation        test accuracy (reported only) and the data-free trust signals
 *   CollapseDetector  warns when the signals say the generator collapsed
 *   EvalLog           appends the point to the history and log.jsonl, tells the listener
 *   EarlyStop         the data-free stopping rule (--stop-when-stable)
 */
import { evaluate } from '../../train/evaluate';
import { writeRunLog } from '../../io/run-dir';
import { computeSignals, collapseReasons } from '../signals';
import { stableStop } from '../stopping';
import type { StepLog } from '../method';
import { deliveredStudent, elapsed, type Callback, type EvalPoint, type TrainContext, type TrainState } from '../trainer';
import { writeSamples } from './samples';

function meanLogs(logs: StepLog[]): Record<string, number> {
  const acc: Record<string, { s: number; n: number }> = {};
  for (const l of logs) for (const [k, v] of Object.entries(l)) (acc[k] ??= { s: 0, n: 0 }), (acc[k].s += v), (acc[k].n += 1);
  return Object.fromEntries(Object.entries(acc).map(([k, { s, n }]) => [k, s / n]));
}

export class Evaluation implements Callback {
  afterIteration(c: TrainContext, s: TrainState): void {
    if (s.iteration % c.cfg.eval.every !== 0 && s.iteration !== c.cfg.iterations) return;
    const losses = meanLogs(s.pending);
    s.pending = [];
    const model = deliveredStudent(c);
    const acc = evaluate(model, c.test, c.numClasses, c.cfg.eval.batchSize).accuracy;
    const raw = c.ema ? { rawAccuracy: evaluate(c.student, c.test, c.numClasses, c.cfg.eval.batchSize).accuracy } : {};
    const signals = computeSignals(c.teacher, model, c.method, { n: 256 });
    s.evalPoint = { iteration: s.iteration, time: elapsed(s), testAccuracy: acc, ...raw, selectionRate: losses.selection_rate ?? NaN, losses, signals, lr: c.method.studentOpt.lr };
  }
}

export class CollapseDetector implements Callback {
  afterIteration(c: TrainContext, s: TrainState): void {
    const point = s.evalPoint;
    if (!point?.signals) return;
    const reasons = collapseReasons(point.signals);
    if (reasons.length === 0) return;
    point.collapse = reasons;
    c.warn(`possible generator collapse at iteration ${s.iteration}: ${reasons.join('; ')}`);
  }
}

export class EvalLog implements Callback {
  constructor(private readonly onEval?: (e: EvalPoint) => void) {}
  afterIteration(c: TrainContext, s: TrainState): void {
    if (!s.evalPoint) return;
    s.history.push(s.evalPoint);
    writeRunLog(c.runDir, s.history);
    this.onEval?.(s.evalPoint);
  }
}

export class EarlyStop implements Callback {
  afterIteration(c: TrainContext, s: TrainState): void {
    const rule = c.cfg.stopWhenStable;
    if (!s.evalPoint || !rule || s.iteration >= c.cfg.iterations) return;
    const stop = stableStop(s.history, rule, c.cfg.iterations);
    if (!stop) return;
    if (s.iteration % c.cfg.sampleEvery !== 0) writeSamples(c.runDir, c.method, s.iteration);
    s.exit = { kind: 'early', stop };
  }
}

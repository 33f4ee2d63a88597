/**
 * A data-free stopping rule (`--stop-when-stable`): end a run when a trust signal, measured on fresh
 * synthetic samples at every evaluation, has stopped improving. It replaces the test-set model
 * selection of research code (which a data-free user cannot do) with patience on a signal that needs
 * no real data. Pure: it reads the evaluation history only.
 *
 * Rule: with values v_1..v_n of the signal at the evaluations so far (higher is better; logit distance
 * is negated), stop at evaluation n when
 *   - at least `minProgress` of the iterations have run, and n > patience, and
 *   - the best of the last `patience` values is not better than the best before them by more than
 *     `minDelta`.
 */
export const STABLE_SIGNALS = ['agreement', 'trust', 'logitDistance'] as const;
export type StableSignal = (typeof STABLE_SIGNALS)[number];

export interface StopWhenStableRule {
  signal: StableSignal;
  patience: number;
  minDelta: number;
  minProgress: number;
}

/**
 * Defaults: teacher-student agreement (the signal closest to what a user wants: the student deciding like
 * the teacher), 3 evaluations of patience, 0.5 points of agreement (about a quarter of its sampling noise
 * on 256 samples), and never before a quarter of the run.
 */
export const STOP_WHEN_STABLE_DEFAULTS: StopWhenStableRule = { signal: 'agreement', patience: 3, minDelta: 0.005, minProgress: 0.25 };

export interface StablePoint {
  iteration: number;
  signals?: Partial<Record<StableSignal, number>> | null;
}

export interface StableStop {
  iteration: number;
  reason: string;
}

function value(p: StablePoint, signal: StableSignal): number {
  const v = p.signals?.[signal];
  if (typeof v !== 'number' || !Number.isFinite(v)) return NaN;
  return signal === 'logitDistance' ? -v : v;
}

/** Whether the rule fires at the last point of `history` (undefined = keep going). */
export function stableStop(history: readonly StablePoint[], rule: StopWhenStableRule, iterations: number): StableStop | undefined {
  const n = history.length;
  if (n <= rule.patience) return undefined;
  const last = history[n - 1];
  if (last.iteration < rule.minProgress * iterations) return undefined;
  const vals = history.map((h) => value(h, rule.signal));
  if (vals.some((v) => Number.isNaN(v))) return undefined;
  const before = Math.max(...vals.slice(0, n - rule.patience));
  const recent = Math.max(...vals.slice(n - rule.patience));
  if (recent > before + rule.minDelta) return undefined;
  const show = (v: number): string => (rule.signal === 'logitDistance' ? (-v).toFixed(4) : v.toFixed(4));
  return {
    iteration: last.iteration,
    reason:
      `${rule.signal} has not improved by more than ${rule.minDelta} for ${rule.patience} evaluations ` +
      `(best ${show(before)} before iteration ${history[n - rule.patience].iteration}, best since ${show(recent)})`,
  };
}

/** The first evaluation at which the rule would have fired in a finished history (for study reports). */
export function simulateStableStop(history: readonly StablePoint[], rule: StopWhenStableRule, iterations: number): StableStop | undefined {
  for (let i = 1; i <= history.length; i++) {
    const s = stableStop(history.slice(0, i), rule, iterations);
    if (s) return s;
  }
  return undefined;
}

/**
 * TA-DFKD's lenient-expert selection: score every generated sample with a criterion computed from
 * the teacher's logits (higher = less clean), then keep the samples that a 2-component GMM puts in
 * the low-score ("clean") component. The paper's criterion is the teacher's loss against its own
 * prediction; entropy, margin and energy are alternatives a user can pick (or register their own).
 */
import { Tensor, Device, noGrad, tensor } from '../tensor';
import { DfkdError } from '../errors';
import { selectClean, SelectCleanResult } from './gmm';

/** Maps teacher logits [N, K] to per-sample scores [N]; higher means "less clean". */
export type Criterion = (teacherLogits: Tensor) => Tensor;

const criteria = new Map<string, { fn: Criterion; description: string }>();

export function registerCriterion(name: string, fn: Criterion, description: string): void {
  criteria.set(name, { fn, description });
}
/** Names of the registered criteria (the values `selection.criterion` accepts). */
export function criterionNames(): string[] {
  return [...criteria.keys()];
}
export function listCriteria(): { name: string; description: string }[] {
  return [...criteria.entries()].map(([name, c]) => ({ name, description: c.description }));
}
export function getCriterion(name: string): Criterion {
  const c = criteria.get(name);
  if (!c) throw new DfkdError(`unknown selection criterion '${name}' (known: ${[...criteria.keys()].join(', ')})`, 'ECONFIG');
  return c.fn;
}

registerCriterion(
  'loss',
  (t) => t.logSoftmax(1).max(1).neg(),
  "teacher cross-entropy against its own argmax, -log max softmax (the paper's criterion)",
);
registerCriterion(
  'entropy',
  (t) => {
    const lp = t.logSoftmax(1);
    return lp.exp().mul(lp).sum(1).neg();
  },
  'entropy of the teacher softmax',
);
registerCriterion(
  'margin',
  (t) => {
    const [top] = t.softmax(1).topk(2, 1);
    return top.select(1, 1).sub(top.select(1, 0));
  },
  'negative gap between the top-2 teacher probabilities',
);
registerCriterion('energy', (t) => t.logsumexp(1).neg(), 'free energy -logsumexp(logits) (lower = more in-distribution)');

export interface SelectionOptions {
  criterion: string;
  threshold: number;
  /**
   * Per-class floor on the kept share (0 = none, the paper): of the samples the teacher assigns to class
   * c, at least ceil(classFloor x n_c) are kept, the ones with the lowest scores, whatever the GMM says.
   */
  classFloor?: number;
}

export interface Selection extends SelectCleanResult {
  /** int64 indices of the kept samples. */
  index: Tensor;
  kept: number;
}

/** Scores a batch with the criterion and keeps the samples in the GMM's clean component. */
export function selectBatch(teacherLogits: Tensor, o: SelectionOptions): Selection {
  const scores = noGrad(() => getCriterion(o.criterion)(teacherLogits.detach()).toFloat64Array());
  const r = selectClean(scores, { threshold: o.threshold });
  if (o.classFloor) applyClassFloor(r, scores, noGrad(() => teacherLogits.argmax(1).toInt32Array()), o.classFloor);
  const idx: number[] = [];
  for (let i = 0; i < r.mask.length; i++) if (r.mask[i]) idx.push(i);
  // The index lives where the logits do, so indexSelect works on any device.
  const index = tensor(Int32Array.from(idx), [idx.length], 'int64', teacherLogits.device as Device);
  return { ...r, index, kept: idx.length };
}

/**
 * Keeps, in every class (the teacher's argmax), at least ceil(floor x n_c) of its samples: the lowest
 * scores first. The GMM is fitted on the whole batch, and a class the teacher is less sure of (higher
 * losses throughout) can otherwise lose nearly all its samples to it: with a ResNet-8 teacher the
 * selection kept 9% of the generated 'trouser' samples against 33-71% of other classes
 * (scripts/tadfkd-ablation/synthetic-classes.js). Samples with non-finite scores are never added.
 */
export function applyClassFloor(r: SelectCleanResult, scores: Float64Array, classes: Int32Array, floor: number): void {
  const byClass = new Map<number, number[]>();
  classes.forEach((c, i) => {
    if (!Number.isFinite(scores[i])) return;
    const members = byClass.get(c);
    if (members) members.push(i);
    else byClass.set(c, [i]);
  });
  for (const members of byClass.values()) {
    const want = Math.ceil(floor * members.length);
    let have = members.reduce((a, i) => a + r.mask[i], 0);
    for (const i of members.sort((a, b) => scores[a] - scores[b] || a - b)) {
      if (have >= want) break;
      if (!r.mask[i]) {
        r.mask[i] = 1;
        have += 1;
      }
    }
  }
  r.rate = r.mask.length ? r.mask.reduce((a, v) => a + v, 0) / r.mask.length : 1;
}

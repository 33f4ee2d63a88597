/**
 * The BN-statistics hook: a forward hook on every BatchNorm of the (frozen) teacher that records
 * the distance between the batch statistics of the layer's input and the layer's running
 * statistics. Only while `active`, so that student steps and evaluation do not pay for it.
 */
import { Tensor } from '../tensor';
import { Module, BatchNorm, HookHandle } from '../nn';
import { bnStatLoss, bnStatLossStd } from './losses';

/** How the per-layer terms are computed and combined (defaults: the paper's raw terms, summed). */
export interface BNLossOptions {
  scale?: 'raw' | 'std';
  layers?: 'sum' | 'mean';
}

export class BNStatsHook {
  /** When false the hook records nothing. */
  active = false;
  private terms: Tensor[] = [];
  private readonly handles: HookHandle[] = [];
  readonly layers: number;

  constructor(model: Module, private readonly opts: BNLossOptions = {}) {
    const bns = model.modules().filter((m): m is BatchNorm => m instanceof BatchNorm);
    if (bns.length === 0) throw new Error('BNStatsHook: the model has no BatchNorm layers; BN-statistics losses need a teacher with BatchNorm');
    for (const bn of bns) {
      this.handles.push(
        bn.registerForwardHook((_m, input) => {
          if (!this.active) return;
          this.terms.push(opts.scale === 'std' ? bnStatLossStd(input, bn.runningMean, bn.runningVar, bn.eps) : bnStatLoss(input, bn.runningMean, bn.runningVar));
        }),
      );
    }
    this.layers = bns.length;
  }

  /** Clears the recorded terms (call before the teacher forward whose statistics you want). */
  reset(): void {
    this.terms = [];
  }

  /**
   * Runs `fn` (a forward of the hooked model) with recording on, and returns its result and the
   * BN-statistics loss of exactly that forward.
   */
  capture<T>(fn: () => T): { result: T; loss: Tensor } {
    this.reset();
    this.active = true;
    let result: T;
    try {
      result = fn();
    } finally {
      this.active = false;
    }
    return { result, loss: this.loss() };
  }

  /** Sum (or with layers 'mean', mean) of the recorded per-layer terms (of the forwards since the last reset). */
  loss(): Tensor {
    if (this.terms.length === 0) throw new Error('BNStatsHook: no statistics recorded; set active = true and run the teacher first');
    let s = this.terms[0];
    for (let i = 1; i < this.terms.length; i++) s = s.add(this.terms[i]);
    return this.opts.layers === 'mean' ? s.div(this.terms.length) : s;
  }

  /** The recorded per-layer terms as numbers, in layer order (for logging). */
  perLayer(): number[] {
    return this.terms.map((t) => t.item());
  }

  remove(): void {
    for (const h of this.handles) h.remove();
    this.terms = [];
  }
}

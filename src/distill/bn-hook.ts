/**
 * The BN-statistics hook: forward hooks on every BatchNorm of the (frozen) teacher that record the
 * distance between the batch statistics of the layer's input and the layer's running statistics.
 * The hooks are registered only for the forward that `capture` runs and removed after it, so other
 * teacher forwards (selection, student targets, evaluation) run hook-free: they pay nothing, and
 * Sequential can free each layer's output as soon as the next layer has consumed it.
 */
import { Tensor } from '../tensor';
import { Module, BatchNorm, HookHandle } from '../nn';
import { bnStatLoss, bnStatLossStd } from './losses';

/** How the per-layer terms are computed and combined (defaults: the paper's raw terms, summed). */
export interface BNLossOptions {
  scale?: 'raw' | 'std';
  layers?: 'sum' | 'mean';
  /** Multiplier of the first BN layer's term (DeepInversion's first_bn_multiplier); absent = 1. */
  first?: number;
}

/** Whether `model` has a BatchNorm layer (what the BN-statistics losses hook). */
export function hasBatchNorm(model: Module): boolean {
  return model.modules().some((m) => m instanceof BatchNorm);
}

export class BNStatsHook {
  private terms: Tensor[] = [];
  private handles: HookHandle[] = [];
  private readonly bns: BatchNorm[];
  readonly layers: number;

  constructor(model: Module, private readonly opts: BNLossOptions = {}) {
    this.bns = model.modules().filter((m): m is BatchNorm => m instanceof BatchNorm);
    if (this.bns.length === 0) throw new Error('BNStatsHook: the model has no BatchNorm layers; BN-statistics losses need a teacher with BatchNorm');
    this.layers = this.bns.length;
  }

  /** Clears the recorded terms. */
  reset(): void {
    this.terms = [];
  }

  /**
   * Runs `fn` (a forward of the hooked model) with the hooks registered, and returns its result and
   * the BN-statistics loss of exactly that forward.
   */
  capture<T>(fn: () => T): { result: T; loss: Tensor } {
    this.reset();
    this.handles = this.bns.map((bn) =>
      bn.registerForwardHook((_m, input) => {
        this.terms.push(this.opts.scale === 'std' ? bnStatLossStd(input, bn.runningMean, bn.runningVar, bn.eps) : bnStatLoss(input, bn.runningMean, bn.runningVar));
      }),
    );
    let result: T;
    try {
      result = fn();
    } finally {
      this.removeHooks();
    }
    return { result, loss: this.loss() };
  }

  /**
   * Sum (with layers 'mean': mean) of the per-layer terms recorded by the last capture, the first
   * layer's term times `first` when set.
   */
  loss(): Tensor {
    if (this.terms.length === 0) throw new Error('BNStatsHook: no statistics recorded; run the teacher inside capture()');
    const first = this.opts.first;
    let s = first === undefined || first === 1 ? this.terms[0] : this.terms[0].mul(first);
    for (let i = 1; i < this.terms.length; i++) s = s.add(this.terms[i]);
    return this.opts.layers === 'mean' ? s.div(this.terms.length) : s;
  }

  /** The per-layer terms of the last capture as numbers, in layer order (for logging). */
  perLayer(): number[] {
    return this.terms.map((t) => t.item());
  }

  private removeHooks(): void {
    for (const h of this.handles) h.remove();
    this.handles = [];
  }

  remove(): void {
    this.removeHooks();
    this.terms = [];
  }
}

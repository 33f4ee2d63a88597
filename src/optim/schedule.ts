/** Learning-rate schedules as pure functions of the epoch/step counter, with saveable state. */
import { Optimizer } from './optimizer';

export abstract class LRScheduler {
  /** Number of step() calls so far. */
  lastEpoch = 0;
  readonly baseLr: number;
  constructor(readonly optimizer: Optimizer) {
    this.baseLr = optimizer.lr;
  }
  /** The learning rate after `epoch` steps. */
  abstract lrAt(epoch: number): number;
  step(): void {
    this.lastEpoch += 1;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }
  stateDict(): { lastEpoch: number; baseLr: number } {
    return { lastEpoch: this.lastEpoch, baseLr: this.baseLr };
  }
  loadStateDict(s: { lastEpoch: number }): void {
    this.lastEpoch = s.lastEpoch;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }
}

/** The cosine-annealed rate after `epoch` of `tMax` steps, from `base` to `etaMin` (held at etaMin after tMax). */
export function cosineAnnealed(base: number, epoch: number, tMax: number, etaMin = 0): number {
  const e = Math.min(epoch, tMax);
  return etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * e) / tMax))) / 2;
}

/** Cosine annealing from the base LR to etaMin over tMax steps (torch CosineAnnealingLR, closed form). */
export class CosineLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
    if (!(tMax > 0)) throw new RangeError(`CosineLR: tMax must be positive, got ${tMax}`);
  }
  lrAt(epoch: number): number {
    return cosineAnnealed(this.baseLr, epoch, this.tMax, this.etaMin);
  }
}

/** Multiplies the LR by gamma every stepSize steps (torch StepLR). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    if (!(stepSize > 0)) throw new RangeError(`StepLR: stepSize must be positive, got ${stepSize}`);
  }
  lrAt(epoch: number): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(epoch / this.stepSize));
  }
}

/** Multiplies the LR by gamma at each milestone (torch MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly milestones: number[], readonly gamma = 0.1) {
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.baseLr * Math.pow(this.gamma, this.milestones.filter((m) => m <= epoch).length);
  }
}

/** A constant LR (so every run has a scheduler object to save). */
export class ConstantLR extends LRScheduler {
  lrAt(): number {
    return this.baseLr;
  }
}

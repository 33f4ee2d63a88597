/**
 * Optimizers over a flat list of parameters, written with in-place tensor ops under noGrad.
 * Their state (momentum buffers, Adam moments, step counts) is exposed as named tensors plus JSON
 * so that checkpoints restore a run exactly.
 */
import { Tensor, Device, noGrad, tidy, zerosLike, keep, sameDevice } from '../tensor';

export interface OptimizerState {
  /** JSON-serialisable scalars: hyper-parameters and step counters. */
  meta: Record<string, number | boolean>;
  /** Per-parameter state tensors, named `<paramIndex>.<slot>` (e.g. `3.exp_avg`). */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer {
  /** Current learning rate (LR schedules write it). */
  lr: number;
  protected readonly slots: Map<string, Tensor>[];
  constructor(readonly params: Tensor[], lr: number) {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`${this.constructor.name}: learning rate must be a non-negative number, got ${lr}`);
    if (params.length === 0) throw new Error(`${this.constructor.name}: no parameters to optimise`);
    this.lr = lr;
    this.slots = params.map(() => new Map());
  }
  /** Applies one update from the parameters' current .grad (parameters without grad are skipped). */
  step(): void {
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          const g = p.grad;
          if (g) this.update(p, g, this.slots[i]);
        });
        this.afterStep();
      }),
    );
  }
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }
  protected slot(slots: Map<string, Tensor>, name: string, like: Tensor): Tensor {
    let s = slots.get(name);
    if (!s) {
      s = keep(zerosLike(like));
      slots.set(name, s);
    }
    return s;
  }
  protected abstract update(p: Tensor, g: Tensor, slots: Map<string, Tensor>): void;
  protected afterStep(): void {}
  protected abstract meta(): Record<string, number | boolean>;
  protected abstract setMeta(m: Record<string, number | boolean>): void;

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.slots.forEach((s, i) => {
      for (const [k, t] of s) tensors.set(`${i}.${k}`, t);
    });
    return { meta: { lr: this.lr, ...this.meta() }, tensors };
  }
  /**
   * Moves the optimizer's state tensors (momentum buffers, Adam moments) to `device`. Call it after
   * moving the parameters' module when the optimizer was created (or has stepped) before the move;
   * state that does not exist yet is created later on the parameters' device anyway.
   */
  to(device: Device): this {
    for (const s of this.slots) {
      for (const [k, t] of s) {
        if (sameDevice(t.device, device)) continue;
        s.set(k, keep(t.to(device)));
        t.dispose();
      }
    }
    return this;
  }
  loadStateDict(state: OptimizerState): void {
    this.lr = Number(state.meta.lr);
    this.setMeta(state.meta);
    for (const s of this.slots) {
      for (const t of s.values()) t.dispose();
      s.clear();
    }
    for (const [key, t] of state.tensors) {
      const dot = key.indexOf('.');
      const i = Number(key.slice(0, dot));
      const name = key.slice(dot + 1);
      if (!(i >= 0 && i < this.params.length)) throw new Error(`optimizer state: entry '${key}' refers to parameter ${i}, but there are ${this.params.length}`);
      if (t.shape.join(',') !== this.params[i].shape.join(',')) {
        throw new Error(`optimizer state: '${key}' has shape [${t.shape}], parameter ${i} has [${this.params[i].shape}]`);
      }
      // A copy on the parameter's device (checkpoints are read onto the CPU).
      const p = this.params[i];
      this.slots[i].set(name, keep(t.device === p.device ? t.clone() : t.to({ device: p.device as Device })));
    }
  }
  dispose(): void {
    for (const s of this.slots) for (const t of s.values()) t.dispose();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
/** Stochastic gradient descent with momentum, dampening, weight decay and Nesterov, as torch.optim.SGD. */
export class SGD extends Optimizer {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  constructor(params: Tensor[], o: SGDOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
  }
  protected update(p: Tensor, g: Tensor, slots: Map<string, Tensor>): void {
    let d = this.weightDecay !== 0 ? g.add(p.mul(this.weightDecay)) : g;
    if (this.momentum !== 0) {
      let buf = slots.get('momentum_buffer');
      if (!buf) {
        buf = keep(d.clone());
        slots.set('momentum_buffer', buf);
      } else {
        buf.mul_(this.momentum).add_(d, 1 - this.dampening);
      }
      d = this.nesterov ? d.add(buf.mul(this.momentum)) : buf;
    }
    p.add_(d, -this.lr);
  }
  protected meta(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }
  protected setMeta(m: Record<string, number | boolean>): void {
    this.momentum = Number(m.momentum);
    this.dampening = Number(m.dampening);
    this.weightDecay = Number(m.weightDecay);
    this.nesterov = Boolean(m.nesterov);
  }
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: decoupled weight decay (p -= lr*wd*p) instead of L2 added to the gradient. */
  decoupled?: boolean;
}
/** Adam (and AdamW with decoupled: true), as torch.optim.Adam/AdamW. */
export class Adam extends Optimizer {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  stepCount = 0;
  constructor(params: Tensor[], o: AdamOptions) {
    super(params, o.lr);
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.decoupled = o.decoupled ?? false;
    for (const b of [this.beta1, this.beta2]) if (!(b >= 0 && b < 1)) throw new RangeError(`Adam: betas must be in [0, 1), got ${o.betas}`);
  }
  override step(): void {
    this.stepCount += 1;
    super.step();
  }
  protected update(p: Tensor, g: Tensor, slots: Map<string, Tensor>): void {
    const t = this.stepCount;
    let grad = g;
    if (this.weightDecay !== 0) {
      if (this.decoupled) p.mul_(1 - this.lr * this.weightDecay);
      else grad = g.add(p.mul(this.weightDecay));
    }
    const m = this.slot(slots, 'exp_avg', p);
    const v = this.slot(slots, 'exp_avg_sq', p);
    m.mul_(this.beta1).add_(grad, 1 - this.beta1);
    v.mul_(this.beta2).addcmul_(grad, grad, 1 - this.beta2);
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const denom = v.sqrt().div_(Math.sqrt(bc2)).add_(this.eps);
    p.addcdiv_(m, denom, -this.lr / bc1);
  }
  protected meta(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled, stepCount: this.stepCount };
  }
  protected setMeta(m: Record<string, number | boolean>): void {
    this.beta1 = Number(m.beta1);
    this.beta2 = Number(m.beta2);
    this.eps = Number(m.eps);
    this.weightDecay = Number(m.weightDecay);
    this.decoupled = Boolean(m.decoupled);
    this.stepCount = Number(m.stepCount);
  }
}

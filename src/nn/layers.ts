/** Standard layers with PyTorch's parameter names, shapes and default initialisation. */
import { Tensor, F, zeros, ones, empty, noGrad, tensor, isGradEnabled } from '../tensor';
import { Module } from './module';

function uniformInit(shape: number[], bound: number): Tensor {
  const t = empty(shape);
  noGrad(() => t.uniform_(-bound, bound));
  return t;
}

/** 2-D convolution. Weight [out, in/groups, k, k]; PyTorch's default kaiming-uniform(a=sqrt 5) init. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: { stride?: number; padding?: number; dilation?: number; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`Conv2d: channels (${inChannels} -> ${outChannels}) must be divisible by groups (${groups})`);
    }
    const fanIn = (inChannels / groups) * kernelSize * kernelSize;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.registerParameter('weight', uniformInit([outChannels, inChannels / groups, kernelSize, kernelSize], bound));
    if (opts.bias !== false) this.bias = this.registerParameter('bias', uniformInit([outChannels], bound));
  }
  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new Error(`Conv2d(${this.inChannels}->${this.outChannels}): expected input [N,${this.inChannels},H,W], got [${s.join(',')}]`);
    }
    return F.conv2d(x, this.weight, this.bias, this.opts);
  }
}

/** Fully connected layer y = x W^T + b with W [out, in]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], bound));
    if (bias) this.bias = this.registerParameter('bias', uniformInit([outFeatures], bound));
  }
  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s[s.length - 1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures}->${this.outFeatures}): expected input [...,${this.inFeatures}], got [${s.join(',')}]`);
    }
    return F.linear(x, this.weight, this.bias);
  }
}

/**
 * Batch normalisation over channels (BatchNorm1d for [N,C] / [N,C,L], BatchNorm2d for [N,C,H,W]).
 * Buffers running_mean, running_var and num_batches_tracked as in PyTorch.
 */
export class BatchNorm extends Module {
  readonly weight?: Tensor;
  readonly bias?: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(readonly numFeatures: number, readonly opts: { eps?: number; momentum?: number; affine?: boolean; dims?: 1 | 2 } = {}) {
    super();
    if (opts.affine !== false) {
      this.weight = this.registerParameter('weight', ones([numFeatures]));
      this.bias = this.registerParameter('bias', zeros([numFeatures]));
    }
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', tensor(new BigInt64Array([0n]), []));
  }
  get eps(): number {
    return this.opts.eps ?? 1e-5;
  }
  get momentum(): number {
    return this.opts.momentum ?? 0.1;
  }
  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length < 2 || s[1] !== this.numFeatures) {
      throw new Error(`BatchNorm(${this.numFeatures}): expected input [N,${this.numFeatures},...], got [${s.join(',')}]`);
    }
    if (this.training) noGrad(() => this.numBatchesTracked.add_(1));
    return F.batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, opts: { eps?: number; momentum?: number; affine?: boolean } = {}) {
    super(numFeatures, { ...opts, dims: 2 });
  }
}
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, opts: { eps?: number; momentum?: number; affine?: boolean } = {}) {
    super(numFeatures, { ...opts, dims: 1 });
  }
}

/** Wraps a parameter-free function as a module (activations, pooling, reshaping). */
export class Lambda extends Module {
  constructor(readonly name: string, private readonly fn: (x: Tensor) => Tensor) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

/**
 * ReLU of a tensor that nothing reads afterwards (a layer's fresh output): with autograd off it is
 * computed in place (clamp_min_ 0, the kernel libtorch's relu runs, so the values are identical) and
 * saves an allocation and a pass over memory per activation; with autograd on it is the usual relu.
 */
export function reluOfTemporary(x: Tensor): Tensor {
  return isGradEnabled() ? x.relu() : x.clamp_(0);
}

export class ReLU extends Module {
  /**
   * `inplace`: the input is a temporary no one reads again (conv-BN-ReLU in a Sequential), so a forward
   * without autograd may overwrite it (reluOfTemporary), as PyTorch's nn.ReLU(inplace=True).
   */
  constructor(readonly inplace = false) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.inplace ? reluOfTemporary(x) : x.relu();
  }
}
export class LeakyReLU extends Module {
  /** `inplace`: as ReLU's: without autograd the input (a temporary no one reads again) is overwritten. */
  constructor(readonly slope = 0.01, readonly inplace = false) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.inplace && !isGradEnabled() ? x.leakyRelu_(this.slope) : x.leakyRelu(this.slope);
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return x.sigmoid(); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return x.tanh(); }
}
export class MaxPool2d extends Module {
  constructor(readonly kernel: number, readonly stride?: number, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor { return F.maxPool2d(x, this.kernel, this.stride ?? this.kernel, this.padding); }
}
export class AvgPool2d extends Module {
  constructor(readonly kernel: number, readonly stride?: number, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor { return F.avgPool2d(x, this.kernel, this.stride ?? this.kernel, this.padding); }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly size: number | [number, number]) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.size); }
}
export class Upsample extends Module {
  constructor(readonly scaleFactor: number, readonly mode: 'nearest' | 'bilinear' = 'nearest') { super(); }
  forward(x: Tensor): Tensor { return F.interpolate(x, { scaleFactor: this.scaleFactor, mode: this.mode }); }
}
export class Flatten extends Module {
  constructor(readonly startDim = 1) { super(); }
  forward(x: Tensor): Tensor { return x.flatten(this.startDim); }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5) { super(); }
  forward(x: Tensor): Tensor { return F.dropout(x, this.p, this.training); }
}
/** Reshapes [N, ...] to [N, ...shape]. */
export class Unflatten extends Module {
  constructor(readonly shape: number[]) { super(); }
  forward(x: Tensor): Tensor { return x.reshape([x.shape[0], ...this.shape]); }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

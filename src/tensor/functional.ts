/**
 * Neural-network functional ops (the `F` namespace), mirroring torch.nn.functional.
 * Shapes follow PyTorch: images are NCHW, conv weights [out, in/groups, kh, kw], linear weights [out, in].
 */
import { native } from './native';
import { Reduction, Tensor, wrap } from './tensor';

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

function expectDims(x: Tensor, dims: number, op: string, what: string): void {
  const s = x.shape;
  if (s.length !== dims) throw new Error(`${op}: ${what} must have ${dims} dimensions, got shape [${s.join(',')}]`);
}

export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return wrap(native.linear(x.handle, weight.handle, bias?.handle));
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, o: Conv2dOptions = {}): Tensor {
  expectDims(x, 4, 'conv2d', 'input');
  return wrap(native.conv2d(x.handle, weight.handle, bias?.handle, pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1));
}

export interface BatchNormOptions {
  weight?: Tensor;
  bias?: Tensor;
  runningMean?: Tensor;
  runningVar?: Tensor;
  /** Use batch statistics and update running stats (train mode); else use running stats. */
  training: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch normalisation over dim 1; in training mode updates runningMean/runningVar in place (unbiased var). */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  return wrap(native.batchNorm(x.handle, o.weight?.handle, o.bias?.handle, o.runningMean?.handle, o.runningVar?.handle, o.training, o.momentum ?? 0.1, o.eps ?? 1e-5));
}

export function maxPool2d(x: Tensor, kernel: number | [number, number], stride?: number | [number, number], padding: number | [number, number] = 0): Tensor {
  expectDims(x, 4, 'maxPool2d', 'input');
  return wrap(native.maxPool2d(x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}
export function avgPool2d(x: Tensor, kernel: number | [number, number], stride?: number | [number, number], padding: number | [number, number] = 0): Tensor {
  expectDims(x, 4, 'avgPool2d', 'input');
  return wrap(native.avgPool2d(x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}
export function adaptiveAvgPool2d(x: Tensor, size: number | [number, number]): Tensor {
  return wrap(native.adaptiveAvgPool2d(x.handle, pair(size)));
}

export interface InterpolateOptions {
  size?: [number, number];
  scaleFactor?: number;
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}
/** Nearest or bilinear resizing of an NCHW batch to `size` or by `scaleFactor`. */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  expectDims(x, 4, 'interpolate', 'input');
  const [, , hh, ww] = x.shape;
  const size = o.size ?? (o.scaleFactor !== undefined ? [Math.floor(hh * o.scaleFactor), Math.floor(ww * o.scaleFactor)] : undefined);
  if (!size) throw new Error('interpolate: give size or scaleFactor');
  if ((o.mode ?? 'nearest') === 'nearest') return wrap(native.upsampleNearest2d(x.handle, size));
  return wrap(native.upsampleBilinear2d(x.handle, size, o.alignCorners ?? false));
}

export function relu(x: Tensor): Tensor { return x.relu(); }
export function sigmoid(x: Tensor): Tensor { return x.sigmoid(); }
export function tanh(x: Tensor): Tensor { return x.tanh(); }
export function leakyRelu(x: Tensor, slope = 0.01): Tensor { return x.leakyRelu(slope); }
/** Inverted dropout (scales kept units by 1/(1-p)) when `training`; identity otherwise. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  return wrap(native.dropout(x.handle, p, training));
}
export function softmax(x: Tensor, dim: number): Tensor { return x.softmax(dim); }
export function logSoftmax(x: Tensor, dim: number): Tensor { return x.logSoftmax(dim); }

/** Cross-entropy from logits. `target`: int64 class indices [N] or float probabilities [N, C]. */
export function crossEntropy(logits: Tensor, target: Tensor, o: { reduction?: Reduction; labelSmoothing?: number } = {}): Tensor {
  const t = target.dtype === 'int32' ? target.long() : target;
  try {
    return wrap(native.crossEntropy(logits.handle, t.handle, o.reduction ?? 'mean', o.labelSmoothing ?? 0));
  } finally {
    if (t !== target) t.dispose();
  }
}
export function nllLoss(logProbs: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(native.nllLoss(logProbs.handle, target.handle, reduction));
}
/**
 * KL divergence as torch.nn.functional.kl_div: `input` holds log-probabilities, `target`
 * probabilities (or log-probabilities with logTarget). reduction 'batchmean' divides the sum by N.
 */
export function klDiv(input: Tensor, target: Tensor, o: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  const r = o.reduction ?? 'batchmean';
  if (r === 'batchmean') {
    const s = wrap(native.klDiv(input.handle, target.handle, 'sum', o.logTarget ?? false));
    try {
      return s.div(input.shape[0]);
    } finally {
      s.dispose();
    }
  }
  return wrap(native.klDiv(input.handle, target.handle, r, o.logTarget ?? false));
}
export function l1Loss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(native.l1Loss(a.handle, b.handle, reduction));
}
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(native.mseLoss(a.handle, b.handle, reduction));
}
/** Constant padding; `pads` as torch.nn.functional.pad (last dimension first: [left, right, top, bottom]). */
export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  return wrap(native.pad(x.handle, pads, value));
}
/** One-hot encoding of int64 class indices (int64 result). */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return wrap(native.oneHot(labels.handle, numClasses));
}

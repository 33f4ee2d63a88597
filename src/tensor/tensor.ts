/**
 * The Tensor class: a typed, PyTorch-like view over a native libtorch tensor.
 *
 * Tensors are immutable in shape; most methods return new tensors (recorded in the current tidy()
 * scope). Methods ending in `_` modify the tensor in place and return `this`.
 */
import { native, NativeHandle, NumericArray } from './native';
import { track, keep } from './scope';

/** Element types; 'bfloat16' tensors come from autocast (runtime.ts) and convert with `.to('float32')`. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool' | 'bfloat16';
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Reduction = 'mean' | 'sum' | 'none';
/** A tensor or a plain number where an op accepts either. */
export type TensorLike = Tensor | number;

// Scalars are boxed ([v]) because a bare number is a tensor handle on the native side.
const h = (x: TensorLike): NativeHandle | [number] => (typeof x === 'number' ? [x] : x.handle);

/**
 * Safety net only: a tensor that becomes unreachable without dispose() is freed when the garbage
 * collector notices. Disposed tensors are unregistered, so well-behaved code never depends on it.
 */
const finalizer = new FinalizationRegistry<NativeHandle>((id) => {
  native.dispose(id);
});

export class Tensor {
  /** @internal the native handle; prefer the methods below. */
  readonly handle: NativeHandle;
  private shapeCache: number[] | undefined;
  private disposed = false;

  /** @internal wraps a handle returned by the binding and records it in the current scope. */
  constructor(handle: NativeHandle) {
    this.handle = handle;
    finalizer.register(this, handle, this);
    track(this);
  }

  // ------------------------------------------------------------------ metadata
  get shape(): number[] {
    if (this.shapeCache === undefined) this.shapeCache = native.shape(this.handle) as number[];
    return this.shapeCache.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return native.dtype(this.handle) as DType;
  }
  /** 'cpu' or 'cuda:N' (libtorch's name; a CUDA tensor always carries its index). */
  get device(): string {
    return native.device(this.handle) as string;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** Frees the native memory now. Using the tensor afterwards throws. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    native.dispose(this.handle);
  }
  /** Takes this tensor out of tidy() tracking (it then lives until dispose()). */
  keep(): this {
    return keep(this);
  }

  // ------------------------------------------------------------------ autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle) as boolean;
  }
  set requiresGrad(v: boolean) {
    native.setRequiresGrad(this.handle, v);
  }
  requiresGrad_(v = true): this {
    native.setRequiresGrad(this.handle, v);
    return this;
  }
  /** The memory order libtorch reads from the strides: what convolutions and pooling on it run in. */
  get memoryFormat(): 'contiguous' | 'channels-last' {
    return native.memoryFormat(this.handle) as 'contiguous' | 'channels-last';
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle) as boolean;
  }
  /** The accumulated gradient (a new handle sharing its storage), or undefined. */
  get grad(): Tensor | undefined {
    const g = native.grad(this.handle) as NativeHandle | undefined;
    return g === undefined ? undefined : new Tensor(g);
  }
  /** Drops the accumulated gradient (like PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    native.clearGrad(this.handle);
  }
  /** Backpropagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, retainGraph = false): void {
    native.backward(this.handle, gradient?.handle, retainGraph);
  }
  detach(): Tensor {
    return new Tensor(native.detach(this.handle));
  }

  // ------------------------------------------------------------------ data out
  /** A copy of the data: Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array by dtype. */
  toArray(): NumericArray {
    return native.toArray(this.handle) as NumericArray;
  }
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return native.toArray(this.handle) as Float32Array;
    const t = native.to(this.handle, 'float32');
    try {
      return native.toArray(t) as Float32Array;
    } finally {
      native.dispose(t);
    }
  }
  toInt32Array(): Int32Array {
    if (this.dtype === 'int32') return native.toArray(this.handle) as Int32Array;
    const t = native.to(this.handle, 'int32');
    try {
      return native.toArray(t) as Int32Array;
    } finally {
      native.dispose(t);
    }
  }
  toFloat64Array(): Float64Array {
    if (this.dtype === 'float64') return native.toArray(this.handle) as Float64Array;
    const t = native.to(this.handle, 'float64');
    try {
      return native.toArray(t) as Float64Array;
    } finally {
      native.dispose(t);
    }
  }
  /** The value of a one-element tensor. */
  item(): number {
    return native.item(this.handle) as number;
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(',')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ------------------------------------------------------------------ conversion
  /**
   * Converts to another dtype and/or device ('cpu', 'cuda', 'cuda:N'). Like PyTorch's `.to()`, a
   * target the tensor already has copies nothing: the result is a NEW Tensor object (dispose it as
   * usual) sharing this tensor's storage, so in-place writes through either are seen by both, and
   * disposing one leaves the other valid. Moving between devices copies, and is recorded by
   * autograd (gradients flow back to the source device). A CUDA device on a CPU-only build throws
   * a clear error at once.
   */
  to(target: DType | Device | { dtype?: DType; device?: Device | string }): Tensor {
    if (typeof target === 'string') {
      const isDtype = ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool'].includes(target);
      if (!isDtype && !/^(cpu|cuda(:\d+)?)$/.test(target)) {
        throw new TypeError(`to: '${target}' is neither a dtype (float32, float64, int64, int32, uint8, bool) nor a device (cpu, cuda, cuda:N)`);
      }
      return new Tensor(native.to(this.handle, isDtype ? target : undefined, isDtype ? undefined : target));
    }
    return new Tensor(native.to(this.handle, target.dtype, target.device));
  }
  float(): Tensor {
    return this.to('float32');
  }
  /** `to('cpu')`: a CPU copy (or, already on the CPU, a new handle sharing storage). */
  cpu(): Tensor {
    return this.to('cpu');
  }
  /** @internal Replaces this tensor's data with `src` (same shape and dtype, any device) keeping its identity, like `param.data = src`. Drops .grad. */
  setData_(src: Tensor): this {
    native.setData(this.handle, src.handle);
    this.shapeCache = undefined;
    return this;
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.handle));
  }
  /**
   * This tensor in NCHW strides (PyTorch's `.to(memory_format=torch.contiguous_format)`): unlike
   * `contiguous()`, it also copies a tensor whose strides are valid in both orders but read as
   * channels-last (a one-input-channel weight made channels-last), so convolutions with it run in NCHW.
   */
  contiguousFormat(): Tensor {
    return new Tensor(native.contiguousFormat(this.handle));
  }
  /**
   * A copy in channels-last (NHWC) memory order of a 4-D tensor; the shape and values are unchanged.
   * Convolutions, batch norm and pooling of libtorch keep that order and run faster on it for some
   * networks (the `memoryFormat` option of the generator methods).
   */
  channelsLast(): Tensor {
    if (this.shape.length !== 4) throw new Error(`channelsLast: expected a 4-D tensor [N,C,H,W], got [${this.shape.join(',')}]`);
    return new Tensor(native.channelsLast(this.handle));
  }

  // ------------------------------------------------------------------ elementwise
  add(o: TensorLike): Tensor { return new Tensor(native.add(this.handle, h(o))); }
  sub(o: TensorLike): Tensor { return new Tensor(native.sub(this.handle, h(o))); }
  mul(o: TensorLike): Tensor { return new Tensor(native.mul(this.handle, h(o))); }
  div(o: TensorLike): Tensor { return new Tensor(native.div(this.handle, h(o))); }
  pow(o: TensorLike): Tensor { return new Tensor(native.pow(this.handle, h(o))); }
  maximum(o: TensorLike): Tensor { return new Tensor(native.maximum(this.handle, h(o))); }
  minimum(o: TensorLike): Tensor { return new Tensor(native.minimum(this.handle, h(o))); }
  /** `s - this` */
  rsub(s: number): Tensor { return this.neg().add(s); }
  neg(): Tensor { return new Tensor(native.neg(this.handle)); }
  exp(): Tensor { return new Tensor(native.exp(this.handle)); }
  log(): Tensor { return new Tensor(native.log(this.handle)); }
  log1p(): Tensor { return new Tensor(native.log1p(this.handle)); }
  sqrt(): Tensor { return new Tensor(native.sqrt(this.handle)); }
  rsqrt(): Tensor { return new Tensor(native.rsqrt(this.handle)); }
  abs(): Tensor { return new Tensor(native.abs(this.handle)); }
  square(): Tensor { return new Tensor(native.square(this.handle)); }
  reciprocal(): Tensor { return new Tensor(native.reciprocal(this.handle)); }
  sign(): Tensor { return new Tensor(native.sign(this.handle)); }
  floor(): Tensor { return new Tensor(native.floor(this.handle)); }
  ceil(): Tensor { return new Tensor(native.ceil(this.handle)); }
  round(): Tensor { return new Tensor(native.round(this.handle)); }
  sin(): Tensor { return new Tensor(native.sin(this.handle)); }
  cos(): Tensor { return new Tensor(native.cos(this.handle)); }
  relu(): Tensor { return new Tensor(native.relu(this.handle)); }
  sigmoid(): Tensor { return new Tensor(native.sigmoid(this.handle)); }
  tanh(): Tensor { return new Tensor(native.tanh(this.handle)); }
  leakyRelu(slope = 0.01): Tensor { return new Tensor(native.leakyRelu(this.handle, slope)); }
  clamp(min?: number, max?: number): Tensor { return new Tensor(native.clamp(this.handle, min, max)); }
  isnan(): Tensor { return new Tensor(native.isnan(this.handle)); }
  isfinite(): Tensor { return new Tensor(native.isfinite(this.handle)); }

  // comparison (bool results)
  eq(o: TensorLike): Tensor { return new Tensor(native.eq(this.handle, h(o))); }
  ne(o: TensorLike): Tensor { return new Tensor(native.ne(this.handle, h(o))); }
  lt(o: TensorLike): Tensor { return new Tensor(native.lt(this.handle, h(o))); }
  le(o: TensorLike): Tensor { return new Tensor(native.le(this.handle, h(o))); }
  gt(o: TensorLike): Tensor { return new Tensor(native.gt(this.handle, h(o))); }
  ge(o: TensorLike): Tensor { return new Tensor(native.ge(this.handle, h(o))); }
  logicalNot(): Tensor { return new Tensor(native.logicalNot(this.handle)); }
  logicalAnd(o: Tensor): Tensor { return new Tensor(native.logicalAnd(this.handle, o.handle)); }
  logicalOr(o: Tensor): Tensor { return new Tensor(native.logicalOr(this.handle, o.handle)); }
  /** True when shape, dtype and every value are identical. */
  equal(o: Tensor): boolean { return native.equal(this.handle, o.handle) as boolean; }
  all(): boolean { const t = native.all(this.handle); try { return native.item(t) !== 0; } finally { native.dispose(t); } }
  any(): boolean { const t = native.any(this.handle); try { return native.item(t) !== 0; } finally { native.dispose(t); } }

  matmul(o: Tensor): Tensor { return new Tensor(native.matmul(this.handle, o.handle)); }

  // ------------------------------------------------------------------ reductions
  /** Sum over `dims` (all dimensions when omitted). */
  sum(dims?: number | number[], keepdim = false): Tensor { return new Tensor(native.sum(this.handle, reduceDims(this, dims, keepdim), keepdim)); }
  mean(dims?: number | number[], keepdim = false): Tensor { return new Tensor(native.mean(this.handle, reduceDims(this, dims, keepdim), keepdim)); }
  /** Variance; `unbiased` (default true) divides by n-1 like PyTorch. */
  var(dims?: number | number[], unbiased = true, keepdim = false): Tensor { return new Tensor(native.var(this.handle, reduceDims(this, dims, keepdim), unbiased, keepdim)); }
  std(dims?: number | number[], unbiased = true, keepdim = false): Tensor { return new Tensor(native.std(this.handle, reduceDims(this, dims, keepdim), unbiased, keepdim)); }
  norm(p = 2, dims?: number | number[], keepdim = false): Tensor { return new Tensor(native.norm(this.handle, p, reduceDims(this, dims, keepdim), keepdim)); }
  /** Maximum over `dims` (all when omitted). For the indices use maxWithIndices/argmax. */
  max(dims?: number | number[], keepdim = false): Tensor { return new Tensor(native.amax(this.handle, dimList(dims) ?? [], keepdim)); }
  min(dims?: number | number[], keepdim = false): Tensor { return new Tensor(native.amin(this.handle, dimList(dims) ?? [], keepdim)); }
  maxWithIndices(dim: number, keepdim = false): [Tensor, Tensor] { return pair(native.max(this.handle, dim, keepdim)); }
  minWithIndices(dim: number, keepdim = false): [Tensor, Tensor] { return pair(native.min(this.handle, dim, keepdim)); }
  argmax(dim?: number, keepdim = false): Tensor { return new Tensor(native.argmax(this.handle, dim, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return new Tensor(native.argmin(this.handle, dim, keepdim)); }
  logsumexp(dims: number | number[], keepdim = false): Tensor { return new Tensor(native.logsumexp(this.handle, dimList(dims), keepdim)); }
  topk(k: number, dim = -1, largest = true): [Tensor, Tensor] { return pair(native.topk(this.handle, k, dim, largest)); }
  sort(dim = -1, descending = false): [Tensor, Tensor] { return pair(native.sort(this.handle, dim, descending)); }
  softmax(dim: number): Tensor { return new Tensor(native.softmax(this.handle, dim)); }
  logSoftmax(dim: number): Tensor { return new Tensor(native.logSoftmax(this.handle, dim)); }

  // ------------------------------------------------------------------ shape and indexing
  reshape(...shape: number[] | [number[]]): Tensor { return new Tensor(native.reshape(this.handle, shapeArg(shape))); }
  view(...shape: number[] | [number[]]): Tensor { return new Tensor(native.view(this.handle, shapeArg(shape))); }
  permute(...dims: number[] | [number[]]): Tensor { return new Tensor(native.permute(this.handle, shapeArg(dims))); }
  transpose(d0: number, d1: number): Tensor { return new Tensor(native.transpose(this.handle, d0, d1)); }
  flatten(startDim = 0, endDim = -1): Tensor { return new Tensor(native.flatten(this.handle, startDim, endDim)); }
  squeeze(dim?: number): Tensor { return new Tensor(native.squeeze(this.handle, dim)); }
  unsqueeze(dim: number): Tensor { return new Tensor(native.unsqueeze(this.handle, dim)); }
  expand(...shape: number[] | [number[]]): Tensor { return new Tensor(native.expand(this.handle, shapeArg(shape))); }
  repeat(...times: number[] | [number[]]): Tensor { return new Tensor(native.repeat(this.handle, shapeArg(times))); }
  flip(dims: number[]): Tensor { return new Tensor(native.flip(this.handle, dims)); }
  narrow(dim: number, start: number, length: number): Tensor { return new Tensor(native.narrow(this.handle, dim, start, length)); }
  /** Elements `start..end` (exclusive) with `step` along `dim`, like `x[start:end:step]`. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    const n = this.shape[dim < 0 ? dim + this.ndim : dim];
    return new Tensor(native.slice(this.handle, dim, start, end ?? n, step));
  }
  select(dim: number, index: number): Tensor { return new Tensor(native.select(this.handle, dim, index)); }
  indexSelect(dim: number, index: Tensor): Tensor { return new Tensor(native.indexSelect(this.handle, dim, index.handle)); }
  maskedSelect(mask: Tensor): Tensor { return new Tensor(native.maskedSelect(this.handle, mask.handle)); }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native.gather(this.handle, dim, index.handle)); }
  nonzero(): Tensor { return new Tensor(native.nonzero(this.handle)); }
  /** Splits into chunks of `size` along `dim` (the last may be smaller). */
  split(size: number, dim = 0): Tensor[] {
    const n = this.shape[dim < 0 ? dim + this.ndim : dim];
    const out: Tensor[] = [];
    for (let s = 0; s < n; s += size) out.push(this.narrow(dim, s, Math.min(size, n - s)));
    return out;
  }

  // ------------------------------------------------------------------ in place (no autograd history; use under noGrad)
  add_(o: TensorLike, alpha = 1): this { native.add_(this.handle, h(o), alpha); return this; }
  sub_(o: TensorLike, alpha = 1): this { native.add_(this.handle, h(o), -alpha); return this; }
  mul_(o: TensorLike): this { native.mul_(this.handle, h(o)); return this; }
  div_(o: TensorLike): this { native.div_(this.handle, h(o)); return this; }
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.addcmul_(this.handle, a.handle, b.handle, value); return this; }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.addcdiv_(this.handle, a.handle, b.handle, value); return this; }
  copy_(src: Tensor): this {
    if (src.shape.join(',') !== this.shape.join(',')) {
      throw new Error(`copy_: source shape [${src.shape}] differs from destination shape [${this.shape}]`);
    }
    native.copy_(this.handle, src.handle);
    return this;
  }
  zero_(): this { native.zero_(this.handle); return this; }
  fill_(v: number): this { native.fill_(this.handle, v); return this; }
  clamp_(min?: number, max?: number): this { native.clamp_(this.handle, min, max); return this; }
  leakyRelu_(slope = 0.01): this { native.leakyRelu_(this.handle, slope); return this; }
  uniform_(low = 0, high = 1): this { native.uniform_(this.handle, low, high); return this; }
  normal_(mean = 0, std = 1): this { native.normal_(this.handle, mean, std); return this; }
}

function pair(p: [NativeHandle, NativeHandle]): [Tensor, Tensor] {
  return [new Tensor(p[0]), new Tensor(p[1])];
}

function dimList(d: number | number[] | undefined): number[] | undefined {
  if (d === undefined) return undefined;
  return typeof d === 'number' ? [d] : d;
}

/** Like dimList, but every dimension when `dims` is omitted with keepdim (the native all-dims path has no keepdim). */
function reduceDims(t: Tensor, dims: number | number[] | undefined, keepdim: boolean): number[] | undefined {
  const d = dimList(dims);
  return d === undefined && keepdim ? Array.from({ length: t.ndim }, (_, i) => i) : d;
}

function shapeArg(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}

/** True when two device names denote the same device ('cuda' is 'cuda:0', libtorch's default). */
export function sameDevice(a: string, b: string): boolean {
  const norm = (d: string): string => (d === 'cuda' ? 'cuda:0' : d);
  return norm(a) === norm(b);
}

/** Wraps a native handle (used by the creation and functional modules). */
export function wrap(handle: NativeHandle): Tensor {
  return new Tensor(handle);
}

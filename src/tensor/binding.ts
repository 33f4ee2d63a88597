/**
 * The typed native boundary: every function of the addon's op table with its argument and result
 * types, checked against the loaded addon (checkBinding) so that a missing, misspelt or extra op is an
 * error at load time, and a misspelt op name in TypeScript does not compile. Argument validation and
 * messages stay on the TypeScript side (src/tensor); the addon converts and calls libtorch.
 */
/** A tensor on the native side: an id into the addon's registry (src: native/src/registry.cc). */
export type H = number;
type OptH = H | undefined;
type Shape = number[];
type Dims = number[];
export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
type Reduction = 'none' | 'mean' | 'sum';

const UNARY = ['neg', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'sign', 'floor', 'ceil', 'round', 'square', 'reciprocal', 'sin', 'cos', 'contiguous', 'channelsLast', 'contiguousFormat', 'clone', 'detach', 'isnan', 'isfinite', 'logicalNot', 'nonzero', 'all', 'any'] as const;
/** Binary ops whose second operand is a tensor or a scalar. */
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const BINARY_TENSOR = ['logicalAnd', 'logicalOr', 'matmul'] as const;
const FACTORIES = ['zeros', 'ones', 'empty', 'rand', 'randn'] as const;
/** sum, mean, amax, amin over `dims` (empty: all). */
const REDUCE = ['sum', 'mean', 'amax', 'amin'] as const;
const SHAPED = ['reshape', 'view', 'permute', 'expand', 'repeat'] as const;

type Unary = (a: H) => H;
type Binary = (a: H, b: H | [number]) => H;
type Factory = (shape: Shape, dtype?: string, device?: string) => H;
/** `dims` undefined (or empty for amax/amin): every dimension. */
type Reduce = (a: H, dims: Dims | undefined, keepdim: boolean) => H;
type Shaped = (a: H, shape: Shape) => H;

/** The whole op table of build/Release/dfkd_native.node. */
export interface NativeBinding
  extends Record<(typeof UNARY)[number], Unary>,
    Record<(typeof BINARY)[number], Binary>,
    Record<(typeof BINARY_TENSOR)[number], (a: H, b: H) => H>,
    Record<(typeof FACTORIES)[number], Factory>,
    Record<(typeof REDUCE)[number], Reduce>,
    Record<(typeof SHAPED)[number], Shaped> {
  // registry
  dispose(h: H): boolean;
  isDisposed(h: H): boolean;
  memoryStats(): { liveTensors: number; liveBytes: number; cpuCache: unknown };
  emptyCpuCache(): void;
  // creation and data transfer
  fromArray(data: NumericArray, shape: Shape, dtype?: string, device?: string): H;
  toArray(h: H): NumericArray;
  item(h: H): number;
  full(shape: Shape, value: number, dtype?: string, device?: string): H;
  arange(start: number, end: number, step: number, dtype?: string, device?: string): H;
  randint(low: number, high: number, shape: Shape, device?: string): H;
  randperm(n: number, device?: string): H;
  // metadata and autograd
  shape(h: H): number[];
  dtype(h: H): string;
  device(h: H): string;
  requiresGrad(h: H): boolean;
  isLeaf(h: H): boolean;
  memoryFormat(h: H): string;
  setRequiresGrad(h: H, v: boolean): void;
  grad(h: H): H | undefined;
  clearGrad(h: H): void;
  backward(h: H, gradient: OptH, retainGraph?: boolean): void;
  autogradGrad(output: H, inputs: H[], gradOutput: OptH, createGraph: boolean, retainGraph: boolean): H[];
  setGradEnabled(v: boolean): boolean;
  isGradEnabled(): boolean;
  autocastCpuEnter(): boolean;
  autocastCpuExit(wasOn: boolean): void;
  // runtime
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  getRngState(device?: string): H;
  setRngState(h: H, device?: string): void;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  synchronize(device?: string): void;
  setCudnn(benchmark: boolean, deterministic: boolean): void;
  info(): unknown;
  // ops with their own signatures
  equal(a: H, b: H): boolean;
  add_(a: H, b: H | [number], alpha?: number): void;
  mul_(a: H, b: H | [number]): void;
  div_(a: H, b: H | [number]): void;
  addcmul_(a: H, t1: H, t2: H, value: number): void;
  addcdiv_(a: H, t1: H, t2: H, value: number): void;
  copy_(a: H, src: H): void;
  zero_(a: H): void;
  fill_(a: H, v: number): void;
  clamp_(a: H, min?: number, max?: number): void;
  uniform_(a: H, low: number, high: number): void;
  normal_(a: H, mean: number, std: number): void;
  logsumexp(a: H, dims: Dims | undefined, keepdim: boolean): H;
  var(a: H, dims: Dims | undefined, unbiased: boolean, keepdim: boolean): H;
  std(a: H, dims: Dims | undefined, unbiased: boolean, keepdim: boolean): H;
  norm(a: H, p: number, dims: Dims | undefined, keepdim: boolean): H;
  max(a: H, dim: number, keepdim: boolean): [H, H];
  min(a: H, dim: number, keepdim: boolean): [H, H];
  argmax(a: H, dim: number | undefined, keepdim: boolean): H;
  argmin(a: H, dim: number | undefined, keepdim: boolean): H;
  topk(a: H, k: number, dim: number, largest: boolean): [H, H];
  sort(a: H, dim: number, descending: boolean): [H, H];
  transpose(a: H, d0: number, d1: number): H;
  flatten(a: H, startDim: number, endDim: number): H;
  squeeze(a: H, dim?: number): H;
  unsqueeze(a: H, dim: number): H;
  flip(a: H, dims: Dims): H;
  cat(hs: H[], dim: number): H;
  stack(hs: H[], dim: number): H;
  narrow(a: H, dim: number, start: number, length: number): H;
  select(a: H, dim: number, index: number): H;
  slice(a: H, dim: number, start: number, end: number, step: number): H;
  indexSelect(a: H, dim: number, index: H): H;
  maskedSelect(a: H, mask: H): H;
  gather(a: H, dim: number, index: H): H;
  where(cond: H, a: H, b: H | number[]): H;
  pad(a: H, pads: number[], value: number): H;
  oneHot(labels: H, numClasses: number): H;
  to(a: H, dtype?: string, device?: string): H;
  setData(a: H, src: H): void;
  clamp(a: H, min?: number, max?: number): H;
  // neural-network functions
  linear(x: H, w: H, b: OptH): H;
  conv2d(x: H, w: H, b: OptH, stride: number[], padding: number[], dilation: number[], groups: number): H;
  batchNorm(x: H, w: OptH, b: OptH, runningMean: OptH, runningVar: OptH, training: boolean, momentum: number, eps: number): H;
  maxPool2d(x: H, kernel: number[], stride: number[], padding: number[]): H;
  avgPool2d(x: H, kernel: number[], stride: number[], padding: number[]): H;
  adaptiveAvgPool2d(x: H, size: number[]): H;
  upsampleNearest2d(x: H, size: number[]): H;
  upsampleBilinear2d(x: H, size: number[], alignCorners: boolean): H;
  leakyRelu(x: H, slope: number): H;
  leakyRelu_(x: H, slope: number): void;
  dropout(x: H, p: number, training: boolean): H;
  softmax(x: H, dim: number): H;
  logSoftmax(x: H, dim: number): H;
  crossEntropy(logits: H, target: H, reduction: Reduction, labelSmoothing: number): H;
  nllLoss(logProbs: H, target: H, reduction: Reduction): H;
  klDiv(input: H, target: H, reduction: Reduction, logTarget: boolean): H;
  l1Loss(a: H, b: H, reduction: Reduction): H;
  mseLoss(a: H, b: H, reduction: Reduction): H;
}

/** Every op name of NativeBinding (the compiler checks this list against the interface, both ways). */
const OWN = [
  'dispose', 'isDisposed', 'memoryStats', 'emptyCpuCache', 'fromArray', 'toArray', 'item', 'full', 'arange', 'randint', 'randperm',
  'shape', 'dtype', 'device', 'requiresGrad', 'isLeaf', 'memoryFormat', 'setRequiresGrad', 'grad', 'clearGrad', 'backward', 'autogradGrad', 'setGradEnabled', 'isGradEnabled', 'autocastCpuEnter', 'autocastCpuExit',
  'setNumThreads', 'getNumThreads', 'manualSeed', 'getRngState', 'setRngState', 'cudaAvailable', 'cudaDeviceCount', 'synchronize', 'setCudnn', 'info',
  'equal', 'add_', 'mul_', 'div_', 'addcmul_', 'addcdiv_', 'copy_', 'zero_', 'fill_', 'clamp_', 'leakyRelu_', 'uniform_', 'normal_',
  'logsumexp', 'var', 'std', 'norm', 'max', 'min', 'argmax', 'argmin', 'topk', 'sort', 'transpose', 'flatten', 'squeeze', 'unsqueeze', 'flip',
  'cat', 'stack', 'narrow', 'select', 'slice', 'indexSelect', 'maskedSelect', 'gather', 'where', 'pad', 'oneHot', 'to', 'setData', 'clamp',
  'linear', 'conv2d', 'batchNorm', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d', 'upsampleNearest2d', 'upsampleBilinear2d', 'leakyRelu', 'dropout',
  'softmax', 'logSoftmax', 'crossEntropy', 'nllLoss', 'klDiv', 'l1Loss', 'mseLoss',
] as const;
export const NATIVE_OPS: readonly (keyof NativeBinding)[] = [...UNARY, ...BINARY, ...BINARY_TENSOR, ...FACTORIES, ...REDUCE, ...SHAPED, ...OWN];
// Both directions: every name listed is an op of the interface (above), every op of the interface is listed (here).
type Listed = (typeof NATIVE_OPS)[number] | (typeof OWN)[number];
const _allListed: Record<Exclude<keyof NativeBinding, Listed>, never> = {};
void _allListed;

/**
 * Checks the loaded addon against NativeBinding: every op must be a function, and the addon may hold
 * no op the interface does not declare (an addon and a TypeScript layer from different versions).
 */
export function checkBinding(mod: Record<string, unknown>, file: string): NativeBinding {
  const missing = NATIVE_OPS.filter((k) => typeof mod[k] !== 'function');
  const known = new Set<string>(NATIVE_OPS);
  const extra = Object.keys(mod).filter((k) => !known.has(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `dfkd: the native engine '${file}' does not match this version's op table` +
        (missing.length ? `; missing: ${missing.join(', ')}` : '') +
        (extra.length ? `; not declared in src/tensor/binding.ts: ${extra.join(', ')}` : '') +
        `. Rebuild it with 'npm run build:native'.`,
    );
  }
  return mod as unknown as NativeBinding;
}

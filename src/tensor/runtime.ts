/** Engine-wide settings: gradient mode, threads, seeding, RNG state and build information. */
import * as os from 'os';
import { DfkdError } from '../errors';
import { native, NativeHandle } from './native';
import { Device, Tensor, wrap } from './tensor';

/** Runs `fn` with gradient recording disabled (like `with torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false) as boolean;
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}
/** Runs `fn` with gradient recording enabled (inside an outer noGrad). */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true) as boolean;
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}
/**
 * The gradients of `output` with respect to `inputs` (like `torch.autograd.grad`), returned rather than
 * accumulated into `.grad`; an input `output` does not depend on gets zeros. `gradOutput` is required when
 * `output` is not a scalar. With `createGraph` the gradients are differentiable themselves, so a loss on them
 * can be backpropagated (double backward, e.g. matching input gradients); the graph is then kept
 * (`retainGraph` defaults to `createGraph`).
 */
export function grad(output: Tensor, inputs: Tensor[], o: { gradOutput?: Tensor; createGraph?: boolean; retainGraph?: boolean } = {}): Tensor[] {
  const create = o.createGraph ?? false;
  const handles = native.autogradGrad(output.handle, inputs.map((t) => t.handle), o.gradOutput?.handle, create, o.retainGraph ?? create) as NativeHandle[];
  return handles.map((h) => wrap(h));
}
/**
 * Runs `fn` under CPU autocast to bfloat16 (like `torch.autocast('cpu', dtype=torch.bfloat16)`):
 * convolutions and matrix products run in bfloat16 and return bfloat16 tensors, which the ops after them
 * take as they come (convert results with `.to('float32')`). Fast on CPUs with AVX-512 BF16 or AMX
 * (`cpuHasBf16()` in src/distill/precision.ts tells); it changes results beyond the last bits. CUDA tensors are not affected.
 */
export function autocast<T>(fn: () => T): T {
  const was = native.autocastCpuEnter() as boolean;
  try {
    return fn();
  } finally {
    native.autocastCpuExit(was);
  }
}
export function isGradEnabled(): boolean {
  return native.isGradEnabled() as boolean;
}

/** Sets libtorch's intra-op thread count. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads() as number;
}

/**
 * Seeds the global generators used by rand/randn/randint/randperm/dropout/init: the CPU one and,
 * on a CUDA build with visible GPUs, every CUDA device's (libtorch's at::manual_seed does both).
 */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}
/**
 * A copy of a global generator's state (uint8 bytes), e.g. for checkpoints: the CPU generator's,
 * or a CUDA device's when `device` names one ('cuda' means 'cuda:0').
 */
export function getRngState(device?: Device): Uint8Array {
  const t = wrap(device === undefined ? native.getRngState() : native.getRngState(device));
  try {
    return t.toArray() as Uint8Array;
  } finally {
    t.dispose();
  }
}
export function setRngState(state: Uint8Array, device?: Device): void {
  const t: Tensor = wrap(native.fromArray(state, [state.length]));
  try {
    if (device === undefined) native.setRngState(t.handle);
    else native.setRngState(t.handle, device);
  } finally {
    t.dispose();
  }
}

export interface EngineInfo {
  torchVersion: string;
  /** A CUDA device is usable now (CUDA build, driver and at least one visible GPU). */
  cuda: boolean;
  cudaDeviceCount: number;
  /** The addon was compiled against a CUDA-enabled libtorch (DFKD_WITH_CUDA). */
  builtWithCuda: boolean;
  cudnn: boolean;
  numThreads: number;
}
/** Versions and capabilities of the native engine. */
export function engineInfo(): EngineInfo {
  const i = native.info() as EngineInfo & { parallelInfo: string; config: string };
  return {
    torchVersion: i.torchVersion,
    cuda: i.cuda,
    cudaDeviceCount: i.cudaDeviceCount,
    builtWithCuda: i.builtWithCuda,
    cudnn: i.cudnn,
    numThreads: i.numThreads,
  };
}
/** True when a CUDA device can be used (false on a CPU-only build or with no visible GPU). */
export function cudaAvailable(): boolean {
  return native.cudaAvailable() as boolean;
}
/** Number of visible CUDA devices (0 on a CPU-only build). */
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount() as number;
}
/** Waits until every queued kernel of a CUDA device has finished (for timing); no-op on the CPU. */
export function synchronize(device?: Device | string): void {
  if (device === undefined) native.synchronize();
  else native.synchronize(device);
}
/** cuDNN autotuning (`benchmark`) and deterministic algorithms; no effect without cuDNN. */
export function setCudnn(o: { benchmark?: boolean; deterministic?: boolean }): void {
  native.setCudnn(o.benchmark ?? false, o.deterministic ?? false);
}

/**
 * Validates a device name ('cpu', 'cuda', 'cuda:N') and checks that it can be used on this build
 * and machine, so that a command fails at once with a clear message instead of at the first tensor.
 */
export function resolveDevice(name: string | undefined): Device {
  const d = (name ?? 'cpu').trim();
  if (!/^(cpu|cuda(:\d+)?)$/.test(d)) throw new DeviceError(`unknown device '${d}' (expected cpu, cuda or cuda:N)`);
  if (d === 'cpu') return 'cpu';
  const info = engineInfo();
  if (!info.builtWithCuda) {
    throw new DeviceError(
      `device '${d}' requested but this dfkd build has no CUDA (built against a CPU-only libtorch, libtorch ${info.torchVersion}); ` +
        `rebuild the addon with DFKD_LIBTORCH pointing at a CUDA-enabled libtorch (see docs/gpu.md), or use --device cpu`,
    );
  }
  if (info.cudaDeviceCount === 0 || !info.cuda) {
    throw new DeviceError(`device '${d}' requested but no CUDA device is visible (check nvidia-smi, the driver and CUDA_VISIBLE_DEVICES), or use --device cpu`);
  }
  const m = /^cuda:(\d+)$/.exec(d);
  if (m && Number(m[1]) >= info.cudaDeviceCount) {
    throw new DeviceError(`device '${d}' requested but only ${info.cudaDeviceCount} CUDA device(s) are visible (cuda:0..cuda:${info.cudaDeviceCount - 1})`);
  }
  return d as Device;
}

/** A device that cannot be used here (unknown name, CPU-only build, no visible GPU). `code` is 'EDEVICE'. */
export class DeviceError extends DfkdError {
  constructor(message: string) {
    super(message, 'EDEVICE');
    this.name = 'DeviceError';
  }
}

// libtorch starts with one intra-op thread here; default to the number of cores (or DFKD_NUM_THREADS).
{
  const env = process.env.DFKD_NUM_THREADS;
  const n = env !== undefined && /^\d+$/.test(env) && Number(env) > 0 ? Number(env) : Math.max(1, os.cpus().length);
  native.setNumThreads(n);
}

/** The CPU allocator's cache of tensor buffers (native/src/cpu_allocator.h). */
export interface CpuCacheStats {
  /** Idle bytes kept at most (DFKD_CPU_CACHE_MB). */
  capBytes: number;
  /** Freed buffers kept for reuse. */
  idleBytes: number;
  /** Buffers in use (size classes, headers included). */
  liveBytes: number;
  hits: number;
  misses: number;
  /** Idle buffers returned to the OS (over the cap, or by emptyCpuCache). */
  released: number;
}

/**
 * Tensors held by the native registry right now and their bytes (leak diagnostics), and the CPU
 * allocator's cache (null when turned off with DFKD_MALLOC=system or DFKD_CPU_CACHE_MB=0).
 */
export function memoryStats(): { liveTensors: number; liveBytes: number; cpuCache: CpuCacheStats | null } {
  return native.memoryStats() as { liveTensors: number; liveBytes: number; cpuCache: CpuCacheStats | null };
}

/** Returns the CPU allocator's idle buffers to the OS (RSS drops; the next steps fault them back in). */
export function emptyCpuCache(): void {
  native.emptyCpuCache();
}

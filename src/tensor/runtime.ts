/** Engine-wide settings: gradient mode, threads, seeding, RNG state and build information. */
import * as os from 'os';
import { native } from './native';
import { Tensor, wrap } from './tensor';

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

/** Seeds the global generator used by rand/randn/randint/randperm/dropout/init. */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}
/** A copy of the global generator's state (uint8 bytes), e.g. for checkpoints. */
export function getRngState(): Uint8Array {
  const t = wrap(native.getRngState());
  try {
    return t.toArray() as Uint8Array;
  } finally {
    t.dispose();
  }
}
export function setRngState(state: Uint8Array): void {
  const t: Tensor = wrap(native.fromArray(state, [state.length]));
  try {
    native.setRngState(t.handle);
  } finally {
    t.dispose();
  }
}

export interface EngineInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDeviceCount: number;
  builtWithCuda: boolean;
  numThreads: number;
}
/** Versions and capabilities of the native engine. */
export function engineInfo(): EngineInfo {
  const i = native.info() as EngineInfo & { parallelInfo: string; config: string };
  return { torchVersion: i.torchVersion, cuda: i.cuda, cudaDeviceCount: i.cudaDeviceCount, builtWithCuda: i.builtWithCuda, numThreads: i.numThreads };
}
export function cudaAvailable(): boolean {
  return (native.info() as EngineInfo).cuda;
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

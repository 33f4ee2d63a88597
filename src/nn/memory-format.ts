/**
 * Memory order of a module's convolution weights. With channels-last (NHWC) weights libtorch's oneDNN
 * convolutions run in that order and keep it for the activations they produce (batch norm, pooling and
 * elementwise ops follow), which is faster for some networks on the CPU (docs/benchmarks.md). Shapes
 * and values are unchanged; results can differ from the contiguous order in the last bits.
 */
import { noGrad } from '../tensor';
import type { Module } from './module';

export const MEMORY_FORMATS = ['contiguous', 'channels-last'] as const;
export type MemoryFormat = (typeof MEMORY_FORMATS)[number];

/** Puts every 4-D parameter of `m` in the given memory order, in place (like PyTorch's `module.to(memory_format=...)`). */
export function setMemoryFormat(m: Module, format: MemoryFormat): void {
  noGrad(() => {
    for (const p of m.parameters()) {
      if (p.shape.length !== 4) continue;
      const q = format === 'channels-last' ? p.channelsLast() : p.contiguousFormat();
      p.setData_(q);
      q.dispose();
    }
  });
}

/**
 * FLOPs of an iteration and the machine's sgemm peak.
 *
 * Counted: convolutions and linear layers only (2 FLOPs per multiply-add), which carry nearly
 * all of the arithmetic of these networks; BatchNorm, activations, pooling, upsampling and the
 * losses are left out. A backward costs 2x the forward for a network whose weights are trained
 * (input and weight gradients) and 1x for a frozen network that only passes gradients to its
 * input (the teacher and the student in the generator step).
 */
import { performance } from 'perf_hooks';
import { Tensor, noGrad, tidy, randn, manualSeed } from '../../src/tensor';
import { Module, Conv2d, Linear } from '../../src/nn';
import type { SampleCounts } from './profile';

/** Forward FLOPs per sample of `model` on input shape [1, ...inShape] (conv and linear layers). */
export function forwardFlopsPerSample(model: Module, inShape: number[]): number {
  let macs = 0;
  const handles = model
    .modules()
    .filter((m) => m instanceof Conv2d || m instanceof Linear)
    .map((m) =>
      m.registerForwardHook((mod, _input, output) => {
        const w = (mod as Conv2d | Linear).weight.shape;
        const perOutput = w.slice(1).reduce((a, b) => a * b, 1); // Cin/groups*k*k or in_features
        macs += (output.shape.reduce((a, b) => a * b, 1) / 2) * perOutput; // batch of 2 below
      }),
    );
  const wasTraining = model.training;
  model.eval();
  try {
    tidy(() => noGrad(() => model.call(randn([2, ...inShape]))));
  } finally {
    for (const h of handles) h.remove();
    model.train(wasTraining);
  }
  return 2 * macs;
}

export interface NetFlops {
  generator: number;
  teacher: number;
  student: number;
}

/** FLOPs of the samples counted by the profiler (forward + backward as described above). */
export function iterationFlops(c: SampleCounts, f: NetFlops): number {
  return (
    c.gen_nograd * f.generator +
    c.gen_train * 3 * f.generator +
    c.teacher_nograd * f.teacher +
    c.teacher_inputgrad * 2 * f.teacher +
    c.student_train * 3 * f.student +
    c.student_inputgrad * 2 * f.student
  );
}

/**
 * The best sgemm rate (GFLOP/s) of an n x n float32 matmul through the addon, over `runs` timed
 * runs after 2 warm-up runs, with the current thread count.
 */
export function sgemmPeak(n = 1024, runs = 10): { n: number; gflops: number; bestMs: number } {
  manualSeed(0);
  const a = randn([n, n]);
  const b = randn([n, n]);
  let best = Infinity;
  try {
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      noGrad(() => a.matmul(b)).dispose(); // dispose: a leaked output would fault in fresh pages each run
      const el = performance.now() - t0;
      if (i >= 2) best = Math.min(best, el);
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  return { n, gflops: (2 * n ** 3) / (best / 1000) / 1e9, bestMs: best };
}

export type { Tensor };

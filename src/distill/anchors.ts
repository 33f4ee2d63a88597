/**
 * Anchor images for TA-DFKD (tadfkd.anchors, a dfkd addition): a fixed, class-balanced set of images
 * inverted from the teacher alone with DeepInversion's recipe (the probe set's, src/distill/probe.ts,
 * with another seed), kept with the teacher's logits on them. A share of every student batch is drawn
 * from it, so the student sees every class the teacher knows in every batch, whichever classes the
 * generator happens to find.
 */
import { Tensor, Device, keep, noGrad, randint, tidy } from '../tensor';
import type { Classifier } from '../models/registry';
import { synthesizeProbe } from './probe';
import type { InversionSchedule } from './inversion';
import { nowSeconds } from '../util';

export interface AnchorSpec {
  n: number;
  steps?: number;
  seed?: number;
  lrSchedule?: InversionSchedule;
  /** Share of the anchors inverted toward two-class soft targets (probe.ts, ProbeOptions.boundary). */
  boundary?: number;
}

/** What the anchors ask of an image cache (the teacher's `anchors-<hash>.safetensors`). */
export type AnchorImageRequest = { n: number; steps?: number; seed: number; lrSchedule?: InversionSchedule; boundary?: number };

export class AnchorSet {
  private constructor(
    private readonly x: Tensor,
    private readonly t: Tensor,
    /** What making the set cost and how well the inversion hit its targets (logged once). */
    readonly log: Record<string, number>,
  ) {}

  /**
   * Inverts `spec.n` images from `teacher` (in eval mode), or takes them from `cached` (the same
   * inversion, cached beside the teacher), and records the teacher's logits on them. Deterministic for a seed.
   */
  static make(
    teacher: Classifier,
    shape: { channels: number; imageSize: number; numClasses: number; device?: Device },
    spec: AnchorSpec,
    cached?: (o: AnchorImageRequest) => Tensor,
  ): AnchorSet {
    const t0 = nowSeconds();
    const o = { n: spec.n, steps: spec.steps, seed: spec.seed ?? 1, lrSchedule: spec.lrSchedule, boundary: spec.boundary };
    const x = cached ? cached(o) : synthesizeProbe(teacher, shape, { ...o, device: shape.device });
    const wasTraining = teacher.training;
    teacher.eval();
    try {
      const { t, hit } = tidy(() =>
        noGrad(() => {
          const t = teacher.call(x);
          const target = Array.from({ length: spec.n }, (_, i) => i % shape.numClasses);
          const pred = t.argmax(1).toInt32Array();
          return { t: keep(t), hit: pred.filter((p, i) => p === target[i]).length / spec.n };
        }),
      );
      return new AnchorSet(keep(x), t, { anchors_sec: nowSeconds() - t0, anchors_target_hit: hit });
    } finally {
      teacher.train(wasTraining);
    }
  }

  get size(): number {
    return this.x.shape[0];
  }

  /** m anchors drawn uniformly with replacement (from the engine RNG of their device), with their logits. */
  sample(m: number): { x: Tensor; t: Tensor } {
    const idx = randint(0, this.size, [m], this.x.device as Device);
    return { x: this.x.indexSelect(0, idx), t: this.t.indexSelect(0, idx) };
  }

  dispose(): void {
    this.x.dispose();
    this.t.dispose();
  }
}

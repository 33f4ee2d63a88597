/**
 * Anchor images for TA-DFKD (tadfkd.anchors, a dfkd addition): a fixed, class-balanced set of images
 * inverted from the teacher alone with DeepInversion's recipe (the probe set's, src/distill/probe.ts,
 * with another seed), kept with the teacher's logits on them. A share of every student batch is drawn
 * from it, so the student sees every class the teacher knows in every batch, whichever classes the
 * generator happens to find.
 */
import { Tensor, Device, cat, keep, noGrad, randint, tidy, tensor } from '../tensor';
import type { Classifier } from '../models/registry';
import { synthesizeProbe, probeInversion, PROBE_DEFAULTS } from './probe';
import { BNStatsHook } from './bn-hook';
import { invertImages, type InversionSchedule } from './inversion';
import { DfkdError } from '../errors';
import { nowSeconds } from '../util';

export interface AnchorSpec {
  n: number;
  steps?: number;
  seed?: number;
  lrSchedule?: InversionSchedule;
  /** Share of the anchors inverted toward two-class soft targets (probe.ts, ProbeOptions.boundary). */
  boundary?: number;
}

/**
 * tadfkd.anchors.refresh: every so many iterations the next `rows` anchors (a ring over the set) are
 * inverted further, from where they are, with DeepInversion's adaptive competition (ADI) added to the
 * probe recipe: weight x (1 - JS(S(x), T(x))), so they move toward images of their class on which the
 * student still disagrees with the teacher.
 */
export interface AnchorRefresh {
  every: number;
  rows: number;
  steps: number;
  weight: number;
}

/** What the anchors ask of an image cache (the teacher's `anchors-<hash>.safetensors`). */
export type AnchorImageRequest = { n: number; steps?: number; seed: number; lrSchedule?: InversionSchedule; boundary?: number };

export class AnchorSet {
  /** Next anchor row a refresh starts at (a ring over the set). */
  private cursor = 0;

  private constructor(
    private x: Tensor,
    private t: Tensor,
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

  /** The set as a checkpoint holds it once refreshes have changed it: images, logits and the ring's cursor. */
  state(prefix: string): { tensors: Map<string, Tensor>; meta: Record<string, number> } {
    return { tensors: new Map([[`${prefix}x`, this.x], [`${prefix}t`, this.t]]), meta: { [`${prefix}cursor`]: this.cursor } };
  }

  /** The set of a checkpoint (copied: the caller disposes its own tensors); undefined when it holds none. */
  static restore(tensors: Map<string, Tensor>, meta: Record<string, number | boolean>, prefix: string, n: number): AnchorSet | undefined {
    const x = tensors.get(`${prefix}x`);
    const t = tensors.get(`${prefix}t`);
    if (!x && !t) return undefined;
    if (!x || !t || x.shape[0] !== n || t.shape[0] !== n) {
      const rows = (v: Tensor | undefined): string => (v ? String(v.shape[0]) : 'missing');
      throw new DfkdError(`checkpoint: refreshed anchors '${prefix}x' / '${prefix}t' have ${rows(x)} / ${rows(t)} rows, the config says tadfkd.anchors.n = ${n}`, 'ECORRUPT');
    }
    const set = new AnchorSet(keep(x.clone()), keep(t.clone()), {});
    set.cursor = Number(meta[`${prefix}cursor`] ?? 0) % n;
    return set;
  }

  /**
   * One refresh (AnchorRefresh): rows cursor.. of the set inverted `o.steps` more Adam steps against the
   * teacher (cross-entropy to their classes i mod K, BN statistics, the probe's priors and jitter) plus
   * the competition with `student` (in eval mode), then their logits taken again. Returns what it logs.
   */
  refresh(teacher: Classifier, student: Classifier, numClasses: number, o: AnchorRefresh): Record<string, number> {
    const t0 = nowSeconds();
    // A refresh never wraps: the one after the set's last rows starts again at row 0.
    const start = this.cursor;
    const m = Math.min(o.rows, this.size - start);
    this.cursor = (start + m) % this.size;
    const y = keep(tensor(Int32Array.from({ length: m }, (_, i) => (start + i) % numClasses), [m], 'int64', this.x.device as Device));
    const x = keep(noGrad(() => this.x.narrow(0, start, m).clone()).requiresGrad_(true));
    const modes = [teacher.training, student.training];
    teacher.eval();
    student.eval();
    const hook = new BNStatsHook(teacher);
    try {
      const recipe = probeInversion({ ...PROBE_DEFAULTS, steps: o.steps });
      const log = invertImages(teacher, hook, x, y, { ...recipe, competition: { student, weight: o.weight } });
      // A refresh that diverged keeps the rows as they were: the run's NaN guard checks the weights, not the anchors.
      const finite = noGrad(() => tidy(() => x.isfinite().all()));
      if (finite) this.replaceRows(start, x, teacher);
      const out: Record<string, number> = { anchors_refresh_sec: nowSeconds() - t0 };
      if (log) Object.assign(out, { anchors_refresh_ce: log.ce, anchors_refresh_adi: log.adi ?? NaN });
      if (!finite) out.anchors_refresh_nonfinite = 1;
      return out;
    } finally {
      hook.remove();
      teacher.train(modes[0]);
      student.train(modes[1]);
      y.dispose();
      x.dispose();
    }
  }

  /** The set with the rows from `start` replaced by `x` and their logits by the teacher's on it. */
  private replaceRows(start: number, x: Tensor, teacher: Classifier): void {
    const m = x.shape[0];
    const splice = (all: Tensor, part: Tensor): Tensor => {
      const pieces = [all.narrow(0, 0, start), part, all.narrow(0, start + m, all.shape[0] - start - m)];
      return cat(pieces.filter((v) => v.shape[0] > 0), 0);
    };
    const next = tidy(() =>
      noGrad(() => {
        const xs = x.detach();
        return { x: keep(splice(this.x, xs)), t: keep(splice(this.t, teacher.call(xs))) };
      }),
    );
    this.x.dispose();
    this.t.dispose();
    this.x = next.x;
    this.t = next.t;
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

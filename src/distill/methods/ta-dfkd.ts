/**
 * TA-DFKD: "Teacher as a Lenient Expert" (Shin & Choi, AAAI 2024).
 *
 *   generator step:  x = G(z); t = T(x)                       (BN hooks record L_BN)
 *                    keep = GMM-clean(criterion(t))           (the teacher as lenient expert)
 *                    L_G = w_bn L_BN + w_tv TV(x) + w_l2 ||x|| + w_adv (1 - JS(S(x_keep), T(x_keep)))
 *                          [+ w_cp CE(t, argmax t)  only with --class-prior: the ablation]
 *                          [+ w_bal sum pbar ln pbar / ln K  only with tadfkd.balance: class balance of the batch]
 *   student step:    draw generator batches until B clean samples are collected;
 *                    L_S = mean |S(x) - T(x)|
 *
 * No class-prior term by default: that is the point of the method. `--no-selection` keeps every
 * sample (the paper's "basic" ablation).
 */
import { Tensor, Device, noGrad, cat, zeros, keep } from '../../tensor';
import { augmentBatch } from '../augment';
import { DfkdError } from '../../errors';
import { GeneratorMethod, MethodContext, Preview, StepLog } from '../method';
import { selectBatch } from '../selection';
import * as L from '../losses';
import { tidy } from '../../tensor';

export class TADFKD extends GeneratorMethod {
  /** Selection rates of the generator batches since the trainer last read them. */
  private rates: number[] = [];

  /** True during the generator warm-up (tadfkd.warmupSteps): BN and image priors only. */
  private warming = false;
  /** Normalised value of a black pixel [1,C,1,1] (padding of the student augmentation). */
  private readonly black: Tensor | undefined;

  constructor(ctx: MethodContext) {
    super(ctx);
    if ((ctx.cfg.tadfkd?.warmupSteps ?? 0) > 0 && !this.bnHook) {
      throw new DfkdError(`tadfkd.warmupSteps ${ctx.cfg.tadfkd!.warmupSteps}: the warm-up trains the generator on the BN-statistics term, but weights.bn is ${ctx.cfg.weights.bn}; set weights.bn > 0 or drop the warm-up`, 'ECONFIG');
    }
    if (ctx.cfg.tadfkd?.augment) this.black = keep(ctx.norm.apply(zeros([1, ctx.channels, 1, 1], 'float32', ctx.device)));
  }

  /**
   * Generator warm-up (tadfkd.warmupSteps, off by default): that many generator steps on the BN and
   * image-prior terms alone (no adversarial term: an untrained student is no opponent yet, and no
   * selection), run once before the first student step. Returns the mean of the warm-up logs.
   */
  warmup(): StepLog | undefined {
    const steps = this.cfg.tadfkd?.warmupSteps ?? 0;
    if (steps === 0) return undefined;
    this.warming = true;
    const acc: Record<string, number> = {};
    try {
      for (let i = 0; i < steps; i++) {
        const l = this.generatorStep();
        for (const [k, v] of Object.entries(l)) if (!k.startsWith('bn_l')) acc[`warmup_${k}`] = (acc[`warmup_${k}`] ?? 0) + v / steps;
        if (i === steps - 1) for (const [k, v] of Object.entries(l)) if (k.startsWith('bn_l') || k === 'bn') acc[`warmup_last_${k}`] = v;
      }
    } finally {
      this.warming = false;
    }
    return acc;
  }

  private select(t: Tensor): { index: Tensor; rate: number } {
    const sel = this.cfg.selection;
    if (!sel.enabled) throw new Error("select: selection is disabled");
    const s = selectBatch(t, { criterion: sel.criterion, threshold: sel.threshold });
    this.rates.push(s.rate);
    return { index: s.index, rate: s.rate };
  }

  /** Running estimate of the selection rate, used to size the next draw. */
  private expectedRate = 1;

  /**
   * Collects exactly B teacher-approved samples from fresh generator batches. Each draw is sized
   * from the recent selection rate (B / rate, at most 2B) so that one forward pass usually
   * suffices; at most `maxDraws` draws are made, after which the student trains on what it has.
   */
  protected override studentBatch(n: number): { x: Tensor; log: StepLog } {
    if (!this.cfg.selection.enabled) return { x: this.augment(this.synth.sample(n)), log: {} };
    return noGrad(() => {
      const kept: Tensor[] = [];
      let have = 0;
      let draws = 0;
      while (have < n && draws < this.cfg.selection.maxDraws) {
        const want = n - have;
        const size = Math.max(8, Math.min(2 * n, Math.ceil((want / Math.max(this.expectedRate, 0.05)) * 1.1)));
        const x = this.synth.sample(size);
        const { index, rate } = this.select(this.teacher.call(x));
        this.expectedRate = 0.8 * this.expectedRate + 0.2 * rate;
        draws += 1;
        if (index.shape[0] === 0) continue;
        const xs = x.indexSelect(0, index);
        kept.push(xs);
        have += xs.shape[0];
      }
      if (have === 0) return { x: this.augment(this.synth.sample(n)), log: { draws } };
      const all = kept.length === 1 ? kept[0] : cat(kept, 0);
      return { x: this.augment(have > n ? all.narrow(0, 0, n) : all), log: { draws } };
    });
  }

  /** The student's view of a synthetic batch: augmented when tadfkd.augment is set, else x itself. */
  private augment(x: Tensor): Tensor {
    const a = this.cfg.tadfkd?.augment;
    return a && this.black ? augmentBatch(x, a, this.black) : x;
  }

  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const w = this.cfg.weights;
    const { x } = this.synth.generate(this.cfg.batchSize);
    const bnFull = this.cfg.selection.bnOn === 'full';
    const { logits: t, bn } = bnFull ? this.teacherWithBN(x) : { logits: this.teacher.call(x), bn: undefined };
    let xs = x;
    let ts = t;
    let rate = 1;
    if (this.cfg.selection.enabled && !this.warming) {
      const s = this.select(t);
      rate = s.rate;
      if (s.index.shape[0] > 0) {
        xs = x.indexSelect(0, s.index);
        ts = t.indexSelect(0, s.index);
      }
    }
    // Official-code behaviour (bnOn 'selected'): BN statistics of the selected samples only.
    const bnLoss = bnFull ? bn : w.bn > 0 ? this.teacherWithBN(xs).bn : undefined;
    let loss: Tensor;
    const log: StepLog = {};
    if (this.warming) {
      loss = zeros([], 'float32', x.device as Device);
    } else {
      const adv = L.jsAdversarial(this.student.call(xs), ts, this.cfg.advTemperature);
      loss = adv.mul(w.adv);
      log.adv = adv.item();
      log.rate = rate;
    }
    if (bnLoss) {
      loss = loss.add(bnLoss.mul(w.bn));
      log.bn = bnLoss.item();
      // Per-layer terms of the forward that gave bnLoss (diagnostics: which layers dominate).
      this.bnHook!.perLayer().forEach((v, i) => (log[`bn_l${i}`] = v));
    }
    if (w.tv > 0) {
      const tv = L.totalVariation(x);
      loss = loss.add(tv.mul(w.tv));
      log.tv = tv.item();
    }
    if (w.l2 > 0) {
      const l2 = L.l2Prior(x);
      loss = loss.add(l2.mul(w.l2));
      log.l2 = l2.item();
    }
    const balance = this.cfg.tadfkd?.balance ?? 0;
    if (balance > 0) {
      // Class balance over the whole generated batch (log10 entropy / log10 K = ln entropy / ln K).
      const ie = L.informationEntropy(t).div(Math.log10(t.shape[1]));
      loss = loss.add(ie.mul(balance));
      log.balance = ie.item();
    }
    if (w.classPrior > 0) {
      const cp = L.classPrior(t);
      loss = loss.add(cp.mul(w.classPrior));
      log.class_prior = cp.item();
    }
    return { loss, log };
  }

  override dispose(): void {
    super.dispose();
    this.black?.dispose();
  }

  /** The draw-size estimate is part of the run's state: resume must size draws identically. */
  override synthMeta(): Record<string, number | boolean> {
    return { ...super.synthMeta(), expectedRate: this.expectedRate };
  }
  override loadSynthState(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void {
    super.loadSynthState(t, meta);
    if (typeof meta.expectedRate === 'number') this.expectedRate = meta.expectedRate;
  }

  /** Mean selection rate since the last call (NaN when selection is off or nothing was drawn). */
  takeSelectionRate(): number {
    const r = this.rates;
    this.rates = [];
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : NaN;
  }

  /** Preview with selected (green) / rejected (red) marks. */
  override preview(n: number): Preview {
    return tidy(() =>
      noGrad(() => {
        const { x01, x } = this.synth.generate(Math.max(n, 8));
        let marks: Uint8Array | undefined;
        if (this.cfg.selection.enabled) {
          const s = selectBatch(this.teacher.call(x), { criterion: this.cfg.selection.criterion, threshold: this.cfg.selection.threshold });
          marks = s.mask;
        }
        const shown = x01.narrow(0, 0, n);
        return { images: shown.toFloat32Array(), shape: shown.shape as [number, number, number, number], marks: marks?.subarray(0, n) };
      }),
    );
  }
}

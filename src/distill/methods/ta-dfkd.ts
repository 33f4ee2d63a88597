/**
 * TA-DFKD: "Teacher as a Lenient Expert" (Shin & Choi, AAAI 2024).
 *
 *   generator step:  x = G(z); t = T(x)                       (BN hooks record L_BN)
 *                    keep = GMM-clean(criterion(t))           (the teacher as lenient expert)
 *                    L_G = w_bn L_BN + w_tv TV(x) + w_l2 ||x|| + w_adv (1 - JS(S(x_keep), T(x_keep)))
 *                          [or w_adv (-|S(x_keep) - T(x_keep)|_1)  with tadfkd.adversarial 'l1']
 *                          [+ w_cp CE(t, argmax t)  only with --class-prior: the ablation]
 *                          [+ w_bal sum pbar ln pbar / ln K  only with tadfkd.balance: class balance of the batch]
 *                          [+ w_div mean cos(f_i, f_j) over same-class pairs  only with tadfkd.diversity]
 *   student step:    draw generator batches until B clean samples are collected;
 *                    L_S = mean |S(x) - T(x)|
 *   [tadfkd.companion: a second generator with its own BN weight, first-layer multiplier and jitter takes
 *    its own generator step after the main one and supplies a fixed share of the fresh samples]
 *   [tadfkd.anchors.refresh: every few iterations some anchors are inverted further against the current
 *    student (DeepInversion's competition term), after the generator step]
 *
 * No class-prior term by default: that is the point of the method. `--no-selection` keeps every
 * sample (the paper's "basic" ablation).
 */
import { Tensor, Device, noGrad, cat, zeros, keep } from '../../tensor';
import { augmentBatch, mixupTail } from '../augment';
import { ReplayBuffer } from '../replay';
import { FeatureRecorder } from '../features';
import { AnchorSet, type AnchorRefresh } from '../anchors';
import { BNStatsHook, type BNLossOptions } from '../bn-hook';
import { GeneratorSynthesizer } from '../synthesizer';
import { GeneratorMethod, MethodContext, Preview, StepLog } from '../method';
import { selectBatch } from '../selection';
import { withJacobianMatch } from '../jacobian';
import { DfkdError } from '../../errors';
import * as L from '../losses';
import { tidy } from '../../tensor';
import { GENERATOR_DEFAULTS } from '../config-schema';
import { cosineAnnealed } from '../../optim/schedule';
import { taDfkdShape, DEFAULT_ANCHORS, type TaDfkdConfig, type CropFlip } from './ta-dfkd-config';

export { SelectionSection, TadfkdSection, type SelectionConfig, type TadfkdOptions, type TaDfkdConfig } from './ta-dfkd-config';
import type { MethodDefinition } from './registry';

/** Fresh teacher-approved samples with their teacher logits (none when every draw was rejected) and the draws made. */
type FreshSamples = { x: Tensor; t: Tensor; draws: number } | { x: undefined; draws: number };

/** A generator the fresh samples come from, with the BN and jitter settings of its generator step. */
interface Source {
  synth: GeneratorSynthesizer;
  hook: BNStatsHook | undefined;
  /** BN-statistics weight of its generator loss. */
  bn: number;
  jitter?: CropFlip;
  /** Running estimate of its selection rate, used to size its next draw. */
  expectedRate: number;
}

/** Prefix of the companion generator's checkpoint tensors and meta. */
const COMPANION = 'companion.';
/** Prefix of the refreshed anchors' checkpoint tensors and meta (tadfkd.anchors.refresh). */
const ANCHORS = 'anchors.';
function prefixKeys<V>(p: string, r: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [p + k, v]));
}
function stripKeys<V>(p: string, r: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v]));
}

/** Two batches of fresh samples as one (either may be empty). */
function joinFresh(a: FreshSamples, b: FreshSamples): FreshSamples {
  const draws = a.draws + b.draws;
  if (!a.x) return { ...b, draws };
  if (!b.x) return { ...a, draws };
  return { x: cat([a.x, b.x], 0), t: cat([a.t, b.t], 0), draws };
}

export class TADFKD extends GeneratorMethod<TaDfkdConfig> {
  /** Selection rates of the generator batches since the trainer last read them. */
  private rates: number[] = [];

  /** True during the generator warm-up (tadfkd.warmupSteps): BN and image priors only. */
  private warming = false;
  /** Normalised value of a black pixel [1,C,1,1] (padding of the student augmentation and of the generator-step jitter). */
  private readonly black: Tensor | undefined;
  /** Teacher-approved samples and their logits, replayed to the student (tadfkd.replay). */
  private readonly replay: ReplayBuffer | undefined;
  /** The main generator (this.synth) and its settings. */
  private readonly main: Source;
  /** The second generator of tadfkd.companion. */
  private readonly companion: Source | undefined;
  /** The teacher's penultimate features in the generator step (tadfkd.diversity). */
  private readonly teacherFeats: FeatureRecorder | undefined;
  /** tadfkd.anchors: made on first use (the warm-up, or the first student step of a resumed run). */
  private anchorSet: AnchorSet | undefined;
  private readonly shape: { channels: number; imageSize: number; numClasses: number; device?: Device };
  private readonly teacherImages: MethodContext['teacherImages'];

  constructor(ctx: MethodContext) {
    super(ctx);
    const ta = this.cfg.tadfkd;
    if (ta?.jacobian && this.cfg.studentLoss === 'kl+at') {
      throw new DfkdError("distill config: tadfkd.jacobian works with studentLoss 'l1', 'l1-centered' or 'kl', got 'kl+at'", 'ECONFIG');
    }
    if (ta?.augment || ta?.jitter || ta?.companion?.jitter || (ta?.anchors && ta.anchors.augment)) this.black = keep(ctx.norm.apply(zeros([1, ctx.channels, 1, 1], 'float32', ctx.device)));
    this.shape = { channels: ctx.channels, imageSize: ctx.imageSize, numClasses: ctx.numClasses, device: ctx.device };
    this.teacherImages = ctx.teacherImages;
    if (ta?.diversity) this.teacherFeats = new FeatureRecorder([this.teacher.featureLayer], 'input');
    if (ta?.replay) this.replay = new ReplayBuffer(ta.replay.size, ta.replay.policy, ctx.device, ta.replay.classBalance);
    this.main = { synth: this.synth, hook: this.bnHook, bn: this.cfg.weights.bn, jitter: ta?.jitter, expectedRate: 1 };
    const c = ta?.companion;
    if (c) {
      const synth = new GeneratorSynthesizer(this.synth.o, ctx.norm);
      const hook = c.bn > 0 ? new BNStatsHook(this.teacher, { ...this.bnLossOptions(), first: c.bnFirst }) : undefined;
      this.companion = { synth, hook, bn: c.bn, jitter: c.jitter, expectedRate: 1 };
    }
  }

  protected override bnLossOptions(): BNLossOptions {
    const ta = (this.cfg as TaDfkdConfig).tadfkd;
    return { scale: ta?.bnScale, layers: ta?.bnLayers, first: ta?.bnFirst };
  }

  /**
   * Generator warm-up (tadfkd.warmupSteps, 100 by default): that many generator steps on the BN and
   * image-prior terms alone (no adversarial term: an untrained student is no opponent yet, and no
   * selection), run once before the first student step. Returns the mean of the warm-up logs.
   */
  override warmup(): StepLog | undefined {
    const anchors = this.anchors()?.log;
    const w = this.generatorWarmup();
    return anchors ? { ...anchors, ...w } : w;
  }

  /** The anchor set of tadfkd.anchors, made on the first call (undefined without the option). */
  private anchors(): AnchorSet | undefined {
    const a = this.cfg.tadfkd?.anchors;
    if (a && !this.anchorSet) this.anchorSet = AnchorSet.make(this.teacher, this.shape, a, this.teacherImages);
    return this.anchorSet;
  }

  private generatorWarmup(): StepLog | undefined {
    const steps = this.cfg.tadfkd?.warmupSteps ?? 0;
    if (steps === 0) return undefined;
    // The warm-up trains on the BN-statistics term: without one (weights.bn 0) there is nothing to warm up on.
    if (!this.bnHook && !this.companion?.hook) return { warmup_skipped_no_bn: 1 };
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

  /** Generator steps taken since the run began (warm-ups not counted): when to restart the generator, where the generator's schedule is. */
  private generatorSteps = 0;
  /** The --on-nan rollback's factor on the generators' learning rates (scaleLearningRates). */
  private lrScale = 1;

  /**
   * tadfkd.generatorSchedule 'cosine': before each generator step after the warm-up, the generators'
   * learning rate is generator.lr x 0.5 (1 + cos(pi i / iterations)) for the step's 0-based iteration i,
   * the factor the student's cosine schedule applies during that iteration.
   */
  private scheduleGenerators(): void {
    if (this.cfg.tadfkd?.generatorSchedule !== 'cosine' || this.warming) return;
    const lr = cosineAnnealed(this.cfg.generator.lr * this.lrScale, Math.floor(this.generatorSteps / this.cfg.generatorSteps), this.cfg.iterations);
    this.synth.optimizer.lr = lr;
    if (this.companion) this.companion.synth.optimizer.lr = lr;
  }

  /**
   * One generator step; with tadfkd.restartEvery, after the last generator step of every that many
   * iterations the generator starts afresh (new weights, new optimiser state, the warm-up again), so
   * the next student step already draws from the new generator and a checkpoint holds it.
   */
  override generatorStep(): StepLog {
    this.scheduleGenerators();
    const log = this.optimizeGenerator(this.synth, () => this.generatorLoss());
    const c = this.companion;
    // The companion's loss terms are logged with a 'c_' prefix (its per-layer BN terms are not).
    if (c) for (const [k, v] of Object.entries(this.optimizeGenerator(c.synth, () => this.lossOf(c)))) log[`c_${k}`] = v;
    if (this.warming) return log;
    this.generatorSteps += 1;
    Object.assign(log, this.refreshAnchors());
    const every = this.cfg.tadfkd?.restartEvery;
    if (every && this.generatorSteps % (every * this.cfg.generatorSteps) === 0) {
      this.synth.reinit();
      c?.synth.reinit();
      this.warmup();
      log.restart = 1;
    }
    return log;
  }

  /**
   * tadfkd.anchors.refresh: after the last generator step of every `every` iterations, the next anchors
   * inverted further against the current student (AnchorSet.refresh). Returns what it logs.
   */
  private refreshAnchors(): StepLog {
    const r = this.anchorRefresh;
    if (!r || this.generatorSteps % (r.every * this.cfg.generatorSteps) !== 0) return {};
    return this.anchors()!.refresh(this.teacher, this.student, this.shape.numClasses, r);
  }

  /** The student's view of a synthetic batch: augmented when tadfkd.augment is set, else x itself. */
  private augment(x: Tensor): Tensor {
    const a = this.cfg.tadfkd?.augment;
    return a && this.black ? augmentBatch(x, a, this.black) : x;
  }

  private select(t: Tensor): { index: Tensor; rate: number } {
    const sel = this.cfg.selection;
    if (!sel.enabled) throw new Error("select: selection is disabled");
    const s = selectBatch(t, sel);
    this.rates.push(s.rate);
    return { index: s.index, rate: s.rate };
  }

  /**
   * Collects exactly B teacher-approved samples from fresh generator batches. Each draw is sized
   * from the recent selection rate (B / rate, at most 2B) so that one forward pass usually
   * suffices; at most `maxDraws` draws are made, after which the student trains on what it has.
   * The teacher logits of the kept samples come back too: they are the student's targets.
   */
  private drawClean(src: Source, n: number): FreshSamples {
    const kept: Tensor[] = [];
    const keptT: Tensor[] = [];
    let have = 0;
    let draws = 0;
    while (have < n && draws < this.cfg.selection.maxDraws) {
      const want = n - have;
      const size = Math.max(8, Math.min(2 * n, Math.ceil((want / Math.max(src.expectedRate, 0.05)) * 1.1)));
      const x = this.drawSamples(size, src.synth);
      const t = this.teacherLogits(x);
      const { index, rate } = this.select(t);
      src.expectedRate = 0.8 * src.expectedRate + 0.2 * rate;
      draws += 1;
      if (index.shape[0] === 0) continue;
      const xs = x.indexSelect(0, index);
      kept.push(xs);
      keptT.push(t.indexSelect(0, index));
      have += xs.shape[0];
    }
    if (have === 0) return { x: undefined, draws };
    const first = (ts: Tensor[]): Tensor => {
      const all = ts.length === 1 ? ts[0] : cat(ts, 0);
      return have > n ? all.narrow(0, 0, n) : all;
    };
    return { x: first(kept), t: first(keptT), draws };
  }

  /**
   * The student's batch: B teacher-approved samples (drawClean) with their logits, or with
   * tadfkd.replay a share of them fresh and the rest replayed from the buffer (the fresh ones join it
   * after the replayed ones are drawn).
   */
  protected override studentBatch(n: number): { x: Tensor; t?: Tensor; log: StepLog } {
    const ta = this.cfg.tadfkd;
    if (!this.cfg.selection.enabled && !this.replay && !this.companion && !ta?.mixup && !ta?.anchors) return { x: this.augment(this.drawSamples(n)), log: {} };
    const anchors = this.anchors();
    return noGrad(() => {
      const r = ta?.replay;
      // Anchors first (mixup replaces the batch's last rows), then fresh samples, then replayed ones.
      const share = ta?.anchors ? ta.anchors.share : 0;
      const nAnchor = anchors ? Math.min(n - 1, Math.max(1, Math.round(n * share))) : 0;
      const rest = n - nAnchor;
      const nFresh = r ? Math.min(rest, Math.max(1, Math.round(n * r.fresh))) : rest;
      const fromBuffer = this.replay && this.replay.count >= rest - nFresh ? rest - nFresh : 0;
      const fresh = this.freshClean(fromBuffer > 0 ? nFresh : rest);
      if (!fresh.x) return { x: this.augment(this.drawSamples(n)), log: { draws: fresh.draws } };
      let { x, t } = fresh;
      if (fromBuffer > 0) {
        const old = this.replay!.sample(fromBuffer);
        x = cat([x, old.x], 0);
        t = cat([t, old.t], 0);
      }
      // An augmented batch is not what the teacher scored: its targets are recomputed on the augmented view.
      const reuse = this.cfg.selection.targets !== 'recompute' && !this.cfg.tadfkd?.augment;
      if (anchors) {
        const a = this.anchorRows(anchors, nAnchor, reuse);
        x = cat([a.x, x], 0);
        t = cat([a.t, t], 0);
      }
      this.replay?.add(fresh.x, fresh.t);
      const log: StepLog = { draws: fresh.draws };
      if (this.replay) log.replayed = fromBuffer / n;
      const mix = this.cfg.tadfkd?.mixup;
      if (mix) ({ x, t } = this.mixTail(x, t, Math.max(1, Math.round(x.shape[0] * mix)), reuse));
      return { x: this.augment(x), t: reuse ? t : undefined, log };
    });
  }

  /** With tadfkd.jacobian the student's logit loss plus input-gradient matching (src/distill/jacobian.ts). */
  protected override studentLoss(x: Tensor, t: Tensor, tBlocks?: Tensor[]): { loss: Tensor; log: StepLog } {
    const j = this.cfg.tadfkd?.jacobian;
    if (!j) return super.studentLoss(x, t, tBlocks);
    return withJacobianMatch(this.student, this.teacher, x, t, j, (s, tt) => this.logitLoss(s, tt));
  }

  /**
   * m anchors with their logits; with anchors.augment a crop + flip view of them, with the teacher's logits
   * on it when the batch's targets are reused (else the whole batch is scored again and the stored logits
   * stand in unused).
   */
  private anchorRows(anchors: AnchorSet, m: number, reuse: boolean): { x: Tensor; t: Tensor } {
    const a = anchors.sample(m);
    const aug = this.cfg.tadfkd?.anchors ? this.cfg.tadfkd.anchors.augment : undefined;
    if (!aug || !this.black) return a;
    const x = augmentBatch(a.x, aug, this.black);
    return { x, t: reuse ? this.teacherLogits(x) : a.t };
  }

  /**
   * tadfkd.mixup: the batch's last m rows replaced by mixes (mixupTail) and, when the targets are reused,
   * their logits by the teacher's on the mixes (one teacher forward on m samples).
   */
  private mixTail(x: Tensor, t: Tensor, m: number, reuse: boolean): { x: Tensor; t: Tensor } {
    const r = mixupTail(x, m);
    if (!reuse) return { x: r.x, t };
    const n = t.shape[0];
    const tm = this.teacherLogits(r.mixed);
    return { x: r.x, t: m === n ? tm : cat([t.narrow(0, 0, n - m), tm], 0) };
  }

  /**
   * n fresh samples with teacher logits, with tadfkd.companion a share of them from the companion
   * (at least one from each generator).
   */
  private freshClean(n: number): FreshSamples {
    const c = this.companion;
    if (!c || n < 2) return this.freshFrom(this.main, n);
    const fromC = Math.min(n - 1, Math.max(1, Math.round(n * this.cfg.tadfkd!.companion!.share)));
    return joinFresh(this.freshFrom(this.main, n - fromC), this.freshFrom(c, fromC));
  }

  /** n fresh samples of one generator: the selection's kept ones, or all of a draw when selection is off. */
  private freshFrom(src: Source, n: number): FreshSamples {
    if (this.cfg.selection.enabled) return this.drawClean(src, n);
    const x = this.drawSamples(n, src.synth);
    return { x, t: this.teacherLogits(x), draws: 1 };
  }

  /**
   * The generator step's forward: a batch, the teacher on it (with the BN term when bnOn is 'full'), the
   * lenient selection (not during the warm-up), and the BN term of the selected samples otherwise.
   */
  private generatorForward(src: Source): { x: Tensor; t: Tensor; xs: Tensor; ts: Tensor; rate: number; bnLoss?: Tensor; feats?: Tensor } {
    const { x: raw } = src.synth.generate(this.cfg.batchSize);
    const jitter = src.jitter;
    // The image priors (TV, L2) stay on the generated batch; the teacher and student see the jittered view.
    const x = jitter && this.black ? augmentBatch(raw, jitter, this.black) : raw;
    const bnFull = this.cfg.selection.bnOn === 'full';
    const forward = (): { logits: Tensor; bn: Tensor | undefined } =>
      bnFull ? this.teacherWithBN(x, src.hook) : { logits: this.teacher.call(x), bn: undefined };
    // With tadfkd.diversity the same forward also records the teacher's penultimate features.
    const rec = this.teacherFeats?.capture(forward);
    const { logits: t, bn } = rec ? rec.result : forward();
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
    const bnLoss = bnFull ? bn : src.bn > 0 ? this.teacherWithBN(xs, src.hook).bn : undefined;
    return { x: raw, t, xs, ts, rate, bnLoss, feats: rec?.features[0] };
  }

  /** The adversarial term on the selected samples: the paper's JS, or DFAD's L1 with tadfkd.adversarial 'l1'. */
  private adversarial(xs: Tensor, ts: Tensor): Tensor {
    const s = this.student.call(xs);
    return this.cfg.tadfkd?.adversarial === 'l1' ? L.negL1Adversarial(s, ts) : L.jsAdversarial(s, ts, this.cfg.advTemperature);
  }

  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    return this.lossOf(this.main);
  }

  /** The generator objective of one source (the main generator or the companion) on a fresh batch. */
  private lossOf(src: Source): { loss: Tensor; log: StepLog } {
    const w = this.cfg.weights;
    const { x, t, xs, ts, rate, bnLoss, feats } = this.generatorForward(src);
    const log: StepLog = {};
    // Terms are added in a fixed order (adversarial, BN, TV, L2, balance, class prior, diversity): the sum's last bits depend on it.
    let loss = this.warming ? zeros([], 'float32', x.device as Device) : undefined;
    const add = (name: string, term: Tensor, weight: number): void => {
      loss = loss ? loss.add(term.mul(weight)) : term.mul(weight);
      log[name] = term.item();
    };
    if (!this.warming) {
      add('adv', this.adversarial(xs, ts), w.adv);
      log.rate = rate;
    }
    if (bnLoss) {
      add('bn', bnLoss, src.bn);
      // Per-layer terms of the forward that gave bnLoss (which layers dominate), in runs with a tadfkd section.
      if (this.cfg.tadfkd && src === this.main) this.bnHook!.perLayer().forEach((v, i) => (log[`bn_l${i}`] = v));
    }
    if (w.tv > 0) add('tv', L.totalVariation(x), w.tv);
    if (w.l2 > 0) add('l2', L.l2Prior(x), w.l2);
    const balance = this.cfg.tadfkd?.balance ?? 0;
    // Class balance over the whole generated batch (log10 entropy / log10 K = ln entropy / ln K).
    if (balance > 0) add('balance', L.informationEntropy(t).div(Math.log10(t.shape[1])), balance);
    if (w.classPrior > 0) add('class_prior', L.classPrior(t), w.classPrior);
    const diversity = this.cfg.tadfkd?.diversity ?? 0;
    if (diversity > 0 && feats) add('diversity', L.withinClassSimilarity(feats, t), diversity);
    return { loss: loss!, log };
  }

  override dispose(): void {
    super.dispose();
    this.black?.dispose();
    this.replay?.dispose();
    this.teacherFeats?.remove();
    this.anchorSet?.dispose();
    this.companion?.hook?.remove();
    this.companion?.synth.dispose();
  }

  override scaleLearningRates(f: number): Record<string, number> {
    this.lrScale = f;
    const rates = super.scaleLearningRates(f);
    if (!this.companion) return rates;
    this.companion.synth.optimizer.lr = this.cfg.generator.lr * f;
    return { ...rates, companion: this.companion.synth.optimizer.lr };
  }

  /** The draw-size estimate and the replay buffer are part of the run's state: resume must continue them identically. */
  override synthState(): Map<string, Tensor> {
    const m = this.synthWeights();
    if (this.replay) for (const [k, v] of this.replay.state('replay.')) m.set(k, v);
    if (this.anchorsRefreshed()) for (const [k, v] of this.anchorSet!.state(ANCHORS).tensors) m.set(k, v);
    return m;
  }
  /** The generators and their optimisers, without the replay buffer's stored samples. */
  override synthWeights(): Map<string, Tensor> {
    const m = super.synthState();
    if (this.companion) for (const [k, v] of this.companion.synth.state()) m.set(`${COMPANION}${k}`, v);
    return m;
  }
  override synthMeta(): Record<string, number | boolean> {
    const ta = this.cfg.tadfkd;
    // The step count says when to restart, to refresh the anchors and where the schedule is; runs using none keep their old meta.
    const steps: Record<string, number> = ta?.restartEvery || ta?.generatorSchedule === 'cosine' || this.anchorRefresh ? { generatorSteps: this.generatorSteps } : {};
    const c = this.companion;
    const companion = c ? prefixKeys(COMPANION, { ...c.synth.meta(), expectedRate: c.expectedRate }) : {};
    const anchors = this.anchorsRefreshed() ? this.anchorSet!.state(ANCHORS).meta : {};
    return { ...super.synthMeta(), expectedRate: this.main.expectedRate, ...steps, ...this.replay?.meta('replay.'), ...companion, ...anchors };
  }
  override loadSynthState(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void {
    super.loadSynthState(t, meta);
    if (typeof meta.expectedRate === 'number') this.main.expectedRate = meta.expectedRate;
    if (typeof meta.generatorSteps === 'number') this.generatorSteps = meta.generatorSteps;
    this.replay?.load(t, meta, 'replay.');
    this.loadAnchors(t, meta);
    const c = this.companion;
    if (!c) return;
    const cMeta = stripKeys(COMPANION, meta);
    c.synth.load(new Map([...t].filter(([k]) => k.startsWith(COMPANION)).map(([k, v]) => [k.slice(COMPANION.length), v])), cMeta);
    if (typeof cMeta.expectedRate === 'number') c.expectedRate = cMeta.expectedRate;
  }

  /** The settings of tadfkd.anchors.refresh, when the run has them. */
  private get anchorRefresh(): AnchorRefresh | undefined {
    const a = this.cfg.tadfkd?.anchors;
    return a ? a.refresh : undefined;
  }

  /** With tadfkd.anchors.refresh, once the set exists: it changes during the run, so checkpoints hold it. */
  private anchorsRefreshed(): boolean {
    return !!(this.anchorRefresh && this.anchorSet);
  }

  /** The refreshed anchor set of a checkpoint, in place of the one the first student step would make. */
  private loadAnchors(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void {
    const a = this.cfg.tadfkd?.anchors;
    if (!a || !a.refresh) return;
    const set = AnchorSet.restore(t, meta, ANCHORS, a.n);
    if (!set) return;
    this.anchorSet?.dispose();
    this.anchorSet = set;
  }

  /** Mean selection rate since the last call (NaN when selection is off or nothing was drawn). */
  takeSelectionRate(): number {
    const r = this.rates;
    this.rates = [];
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : NaN;
  }

  /** The mean selection rate since the last call, when there is one. */
  override extraLogs(): StepLog {
    const rate = this.takeSelectionRate();
    return Number.isFinite(rate) ? { selection_rate: rate } : {};
  }

  /** Preview with selected (green) / rejected (red) marks. */
  override preview(n: number): Preview {
    return tidy(() =>
      noGrad(() => {
        const { x01, x } = this.synth.generate(Math.max(n, 8));
        let marks: Uint8Array | undefined;
        if (this.cfg.selection.enabled) {
          const s = selectBatch(this.teacher.call(x), this.cfg.selection);
          marks = s.mask;
        }
        const shown = x01.narrow(0, 0, n);
        return { images: shown.toFloat32Array(), shape: shown.shape as [number, number, number, number], marks: marks?.subarray(0, n) };
      }),
    );
  }
}

/**
 * TA-DFKD (Shin & Choi, AAAI 2024): 10*BN + 1.5e-5*TV + 6e-3*L2 + JS adversarial on selected samples, no
 * class prior; student L1 on logits; 10 student steps : 1 generator step (the common defaults).
 */
export const taDfkd: MethodDefinition<TaDfkdConfig> = {
  name: 'ta-dfkd',
  description: 'TA-DFKD: generator trained with BN statistics + adversarial JS, no class prior; GMM selection of low-loss samples',
  schema: taDfkdShape,
  // dfkd's additions on by default (docs/methods.md, docs/results/tadfkd-ablation/, 200 iterations):
  // - the generator warm-up: +1.2 (ResNet-8), +4.1 (VGG-5) and +1.8 (LeNet-5) points of final accuracy, and
  //   36% instead of 10% at iteration 20 on ResNet-8;
  // - the replay buffer (8,192 samples, half of each student batch replayed): +0.3 / +7.8 (ResNet-8 seeds
  //   0 / 1), +4.1 / -0.5 (VGG-5), -0.6 (LeNet-5), with half the generator and teacher forwards of the
  //   student steps.
  // - mixup of the replayed half of each student batch (0.5): in the converged quick study 11 of 12
  //   TA-DFKD cells higher, +1.62 points on average, ResNet-8 65.4 -> 68.3% of its teacher, at 1.10x the
  //   cell time (docs/results/study-fashion-mnist-quick-mixup/).
  // - anchors (1,024 images inverted from the teacher, a quarter of each student batch): in the converged
  //   quick study 11 of 12 TA-DFKD cells higher, ResNet-8 61.48% -> 68.76%, VGG-5 73.27% -> 75.54%
  //   (docs/results/study-fashion-mnist-quick-anchors/).
  // - anchor augmentation (crop 2 + flip of the anchor rows, teacher logits on the view): in the converged
  //   quick study 11 of 12 TA-DFKD cells higher, ResNet-8 68.76% -> 72.33%, VGG-5 75.54% -> 78.55%
  //   (docs/results/study-fashion-mnist-quick-anchor-augment/); as inverted, the anchors cost the
  //   quickstart's 8-epoch ResNet-8 teacher 7.2 points.
  // configs/methods/ta-dfkd-paper.json turns all four off (`"warmupSteps": 0`, `"replay": false`,
  // `"mixup": false`, `"anchors": false`) and names the paper's student loss (L1 on logits, the common default) explicitly.
  // Tried and left off: the student loss KL at temperature 4 (docs/methods.md; within the seed noise).
  defaults: {
    generator: GENERATOR_DEFAULTS,
    advTemperature: 3,
    selection: { enabled: true, criterion: 'loss', threshold: 0.5, bnOn: 'full', maxDraws: 4 },
    tadfkd: { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: 0.5, anchors: DEFAULT_ANCHORS },
  },
  published: {},
  // The generator's Adam learning rate 1e-2, ten times the dataset presets' (and the paper's) 1e-3: one
  // generator step per 10 student steps moves a generator too little at 1e-3. In 12 one-thread study cells
  // over all six quick-preset teachers +1.30 points on average (9 higher), ResNet-8 +2.06 over four seeds
  // (docs/results/tadfkd-ablation/study-cells-2026-12-02-generator-lr.json; docs/methods.md).
  additions: { generator: { lr: 1e-2 } },
  legacy: { adversarial: 'js' },
  synthesizerLr: (c) => c.generator.lr,
  create: (ctx) => new TADFKD(ctx),
};

/**
 * The frame every method shares: a frozen teacher T, a student S with its optimiser, and a source
 * of synthetic inputs. A method implements two verbs, `studentStep()` and `generatorStep()`; the
 * trainer (trainer.ts) decides how many of each run per iteration and does everything else
 * (schedules, evaluation, checkpoints, logging).
 */
import { Tensor, Device, tidy, noGrad } from '../tensor';
import { Optimizer, SGD, Adam } from '../optim';
import type { Classifier } from '../models/registry';
import type { AnchorImageRequest } from './anchors';
import { setMemoryFormat } from '../nn/memory-format';
import type { BaseConfig, GeneratorConfig } from './config-schema';
import { Normalizer, GeneratorSynthesizer } from './synthesizer';
import { BNStatsHook, BNLossOptions } from './bn-hook';
import { FeatureRecorder } from './features';
import * as L from './losses';
import { checkPrecision, forwardIn, teacherLogitsIn } from './precision';

/** Scalars a step reports for logging (loss terms, selection rate...). */
export type StepLog = Record<string, number>;

export interface MethodContext {
  teacher: Classifier;
  student: Classifier;
  /** The run's effective config (the variant of the method's own schema). */
  cfg: BaseConfig;
  norm: Normalizer;
  numClasses: number;
  channels: number;
  imageSize: number;
  /** Side of the real image content inside the zero-padded input (28 for the MNIST family), if smaller. */
  contentSize?: number;
  /** Where synthetic data is made (teacher, student and `norm` must already be there); default CPU. */
  device?: Device;
  /**
   * Class-balanced images inverted from the teacher with the probe set's recipe (src/distill/probe.ts),
   * cached beside the teacher so that every run of it shares them (TA-DFKD's anchors). Absent: the
   * method inverts them itself.
   */
  teacherImages?: (o: AnchorImageRequest) => Tensor;
}

/** A preview of what the synthesizer currently makes: [0,1] images and optional selection marks. */
export interface Preview {
  images: Float32Array;
  shape: [number, number, number, number];
  marks?: Uint8Array;
}

export abstract class DistillMethod<C extends BaseConfig = BaseConfig> {
  readonly teacher: Classifier;
  readonly student: Classifier;
  readonly cfg: C;
  readonly studentOpt: Optimizer;

  constructor(readonly ctx: MethodContext) {
    this.teacher = ctx.teacher;
    this.student = ctx.student;
    this.cfg = ctx.cfg as C;
    // The teacher is frozen: eval mode (running statistics untouched) and no parameter gradients.
    this.teacher.eval();
    this.teacher.requiresGrad_(false);
    // Set either way: a teacher object reused by another run gets this run's memory order, not the last one's.
    setMemoryFormat(this.teacher, ctx.cfg.memoryFormat ?? 'contiguous');
    checkPrecision(ctx.cfg.precision, ctx.device);
    const s = ctx.cfg.student;
    this.studentOpt =
      s.optimizer === 'adam'
        ? new Adam(this.student.parameters(), { lr: s.lr, weightDecay: s.weightDecay })
        : new SGD(this.student.parameters(), { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
  }

  abstract studentStep(): StepLog;
  abstract generatorStep(): StepLog;
  /** Up to n current synthetic samples for a PNG grid. */
  abstract preview(n: number): Preview;
  /** Synthesizer state (generator weights and optimiser, or an image pool) for checkpoints. */
  abstract synthState(): Map<string, Tensor>;
  /**
   * The synthesizer tensors the NaN guard checks after every iteration: by default all of synthState.
   * A method whose state also holds stored samples (TA-DFKD's replay buffer) leaves them out: they
   * come from weights that were checked when they were made, and scanning them costs more than the
   * weights (a full 8,192-sample buffer: about 20 ms per iteration).
   */
  synthWeights(): Map<string, Tensor> {
    return this.synthState();
  }
  abstract loadSynthState(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void;
  abstract synthMeta(): Record<string, number | boolean>;
  /** Fresh synthetic inputs (normalised) for data-free diagnostics; never trained on. */
  abstract freshSamples(n: number): Tensor;

  /**
   * Sets the synthesizer's learning rates to their configured values times `f` (the trainer scales the
   * student's through its schedule); returns the new rates by name for messages. Used by --on-nan rollback.
   */
  scaleLearningRates(_f: number): Record<string, number> {
    return {};
  }

  /** Scalars the method gathered since the last call (e.g. TA-DFKD's selection rate), for the log. */
  extraLogs(): StepLog {
    return {};
  }

  /**
   * Work done once before the first student step of a fresh run (never on resume: checkpoints hold its
   * result), e.g. TA-DFKD's optional generator warm-up; returns its log, or undefined when there is none.
   */
  warmup(): StepLog | undefined {
    return undefined;
  }

  /** The teacher's logits of x for the student (no grad), in the run's precision (teacherLogitsIn). */
  protected teacherLogits(x: Tensor): Tensor {
    return teacherLogitsIn(this.cfg.precision, this.teacher, x);
  }

  /** One optimiser update of the student from a scalar loss. */
  protected optimizeStudent(loss: Tensor): void {
    this.studentOpt.zeroGrad();
    loss.backward();
    this.studentOpt.step();
  }

  dispose(): void {
    this.studentOpt.dispose();
  }
}

/**
 * Shared machinery of generator-based methods (TA-DFKD, DAFL, DFAD, ZSKT, DFQ): the generator and
 * its optimiser, the BN-statistics hook on the teacher, feature recorders, and the student losses.
 */
export abstract class GeneratorMethod<C extends GeneratorConfig = GeneratorConfig> extends DistillMethod<C> {
  readonly synth: GeneratorSynthesizer;
  readonly bnHook: BNStatsHook | undefined;
  private teacherBlocks?: FeatureRecorder;
  private studentBlocks?: FeatureRecorder;
  private teacherFeatures?: FeatureRecorder;

  constructor(ctx: MethodContext) {
    super(ctx);
    const g = this.cfg.generator;
    this.synth = new GeneratorSynthesizer(
      {
        nz: g.nz,
        width: g.width,
        imageSize: ctx.imageSize,
        contentSize: g.matchPadding ? ctx.contentSize : undefined,
        channels: ctx.channels,
        lr: g.lr,
        betas: [g.beta1, g.beta2],
        device: ctx.device,
        memoryFormat: this.cfg.memoryFormat,
      },
      ctx.norm,
    );
    this.bnHook = this.cfg.weights.bn > 0 ? new BNStatsHook(this.teacher, this.bnLossOptions()) : undefined;
    if (this.cfg.studentLoss === 'kl+at') {
      this.teacherBlocks = new FeatureRecorder(this.teacher.blocks);
      this.studentBlocks = new FeatureRecorder(this.student.blocks);
    }
    if (this.cfg.weights.act > 0) this.teacherFeatures = new FeatureRecorder([this.teacher.featureLayer], 'input');
  }

  /** Teacher forward that also records the BN-statistics loss of this batch (when BN weight > 0). */
  /** How the BN-statistics hook computes and combines its per-layer terms (the paper's by default). */
  protected bnLossOptions(): BNLossOptions {
    return {};
  }

  protected teacherWithBN(x: Tensor, hook: BNStatsHook | undefined = this.bnHook): { logits: Tensor; bn: Tensor | undefined } {
    if (!hook) return { logits: this.teacher.call(x), bn: undefined };
    const { result: logits, loss: bn } = hook.capture(() => this.teacher.call(x));
    return { logits, bn };
  }

  /** Teacher forward that returns logits and the penultimate features (DAFL's activation loss). */
  protected teacherWithFeatures(x: Tensor): { logits: Tensor; features: Tensor } {
    if (!this.teacherFeatures) throw new Error('teacherWithFeatures: activation weight is 0');
    const { result, features } = this.teacherFeatures.capture(() => this.teacher.call(x));
    return { logits: result, features: features[0] };
  }

  /** The logit loss of cfg.studentLoss 'l1', 'l1-centered' or 'kl' between student logits s and teacher logits t. */
  protected logitLoss(s: Tensor, t: Tensor): Tensor {
    const cfg = this.cfg;
    if (cfg.studentLoss === 'l1') return L.l1Logits(s, t);
    if (cfg.studentLoss === 'l1-centered') return L.l1CenteredLogits(s, t);
    if (cfg.studentLoss === 'kl') return L.klTemperature(s, t, cfg.temperature);
    throw new Error(`logitLoss: studentLoss '${cfg.studentLoss}' is not a logit loss`);
  }

  /** The student objective named by cfg.studentLoss on a batch x with teacher logits t. */
  protected studentLoss(x: Tensor, t: Tensor, tBlocks?: Tensor[]): { loss: Tensor; log: StepLog } {
    const cfg = this.cfg;
    if (cfg.studentLoss !== 'kl+at') {
      const loss = this.logitLoss(this.student.call(x), t);
      return { loss, log: { loss_s: loss.item() } };
    }
    const { result: s, features: sBlocks } = this.studentBlocks!.capture(() => this.student.call(x));
    const kd = L.klTemperature(s, t, cfg.temperature);
    const at = L.attentionTransfer(sBlocks, tBlocks!);
    const loss = kd.add(at.mul(cfg.weights.at));
    return { loss, log: { loss_s: loss.item(), kd: kd.item(), at: at.item() } };
  }

  /** Teacher logits (and block features for attention transfer) of x, without gradients. */
  protected teacherTargets(x: Tensor): { t: Tensor; blocks?: Tensor[] } {
    return noGrad(() => {
      if (!this.teacherBlocks) return { t: this.teacherLogits(x) };
      const { result, features } = this.teacherBlocks.capture(() => this.teacherLogits(x));
      return { t: result, blocks: features.map((f) => (f.dtype === 'bfloat16' ? f.to('float32') : f)) };
    });
  }

  /**
   * A batch the student trains on: fresh generator samples (methods may filter them). A method that
   * ran the teacher on the batch to make it returns those logits as `t` (eval-mode teacher, no
   * grad), so that the student step does not run the teacher a second time on the same samples.
   */
  protected studentBatch(n: number): { x: Tensor; t?: Tensor; log: StepLog } {
    return { x: this.drawSamples(n), log: {} };
  }

  /**
   * n fresh samples of `synth` (no grad) for a student batch, in the run's precision: float32, or made under
   * bfloat16 autocast and returned as float32 (precision.ts).
   */
  protected drawSamples(n: number, synth: GeneratorSynthesizer = this.synth): Tensor {
    return forwardIn(this.cfg.precision, () => synth.sample(n));
  }

  studentStep(): StepLog {
    return tidy(() => {
      this.student.train();
      const { x, t: known, log } = this.studentBatch(this.cfg.batchSize);
      // Attention transfer also needs the teacher's block features: then the teacher runs again.
      const { t, blocks } = known && !this.teacherBlocks ? { t: known, blocks: undefined } : this.teacherTargets(x);
      const { loss, log: l2 } = this.studentLoss(x, t, blocks);
      this.optimizeStudent(loss);
      return { ...log, ...l2 };
    });
  }

  /** The generator objective on a fresh batch; returns the scalar to minimise and its parts. */
  protected abstract generatorLoss(): { loss: Tensor; log: StepLog };

  generatorStep(): StepLog {
    return this.optimizeGenerator(this.synth, () => this.generatorLoss());
  }

  /** One optimiser update of `synth`'s generator from the objective `lossFn` computes. */
  protected optimizeGenerator(synth: GeneratorSynthesizer, lossFn: () => { loss: Tensor; log: StepLog }): StepLog {
    return tidy(() => {
      // The student is a fixed opponent during the generator step: eval mode, no parameter grads.
      this.student.eval();
      this.student.requiresGrad_(false);
      synth.generator.train();
      try {
        const { loss, log } = lossFn();
        synth.optimizer.zeroGrad();
        loss.backward();
        synth.optimizer.step();
        return { loss_g: loss.item(), ...log };
      } finally {
        this.student.requiresGrad_(true);
        this.student.train();
      }
    });
  }

  override scaleLearningRates(f: number): Record<string, number> {
    this.synth.optimizer.lr = this.cfg.generator.lr * f;
    return { generator: this.synth.optimizer.lr };
  }

  preview(n: number): Preview {
    return tidy(() => {
      const x01 = noGrad(() => this.synth.generate(n).x01);
      return { images: x01.toFloat32Array(), shape: x01.shape as [number, number, number, number] };
    });
  }
  freshSamples(n: number): Tensor {
    return this.synth.sample(n);
  }
  synthState(): Map<string, Tensor> {
    return this.synth.state();
  }
  synthMeta(): Record<string, number | boolean> {
    return this.synth.meta();
  }
  loadSynthState(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void {
    this.synth.load(t, meta);
  }
  override dispose(): void {
    super.dispose();
    this.bnHook?.remove();
    this.teacherBlocks?.remove();
    this.studentBlocks?.remove();
    this.teacherFeatures?.remove();
    this.synth.dispose();
  }
}

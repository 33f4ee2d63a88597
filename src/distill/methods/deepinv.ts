/**
 * DeepInversion + KD: "Dreaming to Distill" (Yin et al., CVPR 2020).
 *
 *   synthesis ("generator step"): draw target labels y and random images x (the variables);
 *       repeat innerSteps times: L = CE(T(x), y) + w_bn L_BN + w_tv TV(x) + w_l2 ||x||, Adam on x;
 *       add the result to the image pool.
 *   student step: a random pool batch, L_S = KL with temperature (20).
 * No generator network: the images themselves are optimised.
 */
import { z } from 'zod';
import { Tensor, tidy, noGrad, randn, randint, keep } from '../../tensor';
import { DistillMethod, MethodContext, Preview, StepLog } from '../method';
import { BNStatsHook } from '../bn-hook';
import { invertImages, InversionLog } from '../inversion';
import { ImagePool } from '../synthesizer';
import * as L from '../losses';
import type { BaseConfig } from '../config-schema';
import type { MethodDefinition } from './registry';

export const DeepInversionSection = z
  .object({
    innerSteps: z.number().int().positive().describe('image-optimisation steps per synthesised batch'),
    lr: z.number().positive(),
    poolSize: z.number().int().positive().describe('images kept in the pool'),
  })
  .strict();
export type DeepInversionSection = z.infer<typeof DeepInversionSection>;
export type DeepInversionConfig = BaseConfig & { method: 'deepinv'; deepinv: DeepInversionSection };

export class DeepInversion extends DistillMethod<DeepInversionConfig> {
  readonly pool: ImagePool;
  readonly bnHook: BNStatsHook;
  /** Adam learning rate of the image optimisation (cfg.deepinv.lr, lowered by --on-nan rollback). */
  private innerLr: number;

  constructor(ctx: MethodContext) {
    super(ctx);
    this.pool = new ImagePool(this.cfg.deepinv.poolSize);
    this.bnHook = new BNStatsHook(this.teacher);
    this.innerLr = this.cfg.deepinv.lr;
  }

  override scaleLearningRates(f: number): Record<string, number> {
    this.innerLr = this.cfg.deepinv.lr * f;
    return { inversion: this.innerLr };
  }

  generatorStep(): StepLog {
    const cfg = this.cfg;
    const w = cfg.weights;
    const n = cfg.batchSize;
    const x = keep(randn([n, this.ctx.channels, this.ctx.imageSize, this.ctx.imageSize], 'float32', this.ctx.device).requiresGrad_(true));
    const y = keep(randint(0, this.ctx.numClasses, [n], this.ctx.device));
    let log: InversionLog | undefined;
    try {
      log = invertImages(this.teacher, this.bnHook, x, y, { steps: cfg.deepinv.innerSteps, lr: this.innerLr, weights: { ce: w.classPrior, bn: w.bn, tv: w.tv, l2: w.l2 } });
      noGrad(() => this.pool.add(x));
    } finally {
      x.dispose();
      y.dispose();
    }
    return { ...log, pool: this.pool.size };
  }

  studentStep(): StepLog {
    if (this.pool.size === 0) this.generatorStep();
    return tidy(() => {
      this.student.train();
      const x = this.pool.sample(this.cfg.batchSize);
      const t = noGrad(() => this.teacherLogits(x));
      const loss = L.klTemperature(this.student.call(x), t, this.cfg.temperature);
      this.optimizeStudent(loss);
      return { loss_s: loss.item() };
    });
  }

  preview(n: number): Preview {
    return tidy(() => {
      if (this.pool.size === 0) return { images: new Float32Array(0), shape: [0, this.ctx.channels, this.ctx.imageSize, this.ctx.imageSize] as [number, number, number, number] };
      const all = this.pool.all()!;
      const k = Math.min(n, all.shape[0]);
      const x01 = this.ctx.norm.invert(all.narrow(0, all.shape[0] - k, k)).clamp(0, 1);
      return { images: x01.toFloat32Array(), shape: x01.shape as [number, number, number, number] };
    });
  }
  freshSamples(n: number): Tensor {
    return this.pool.size > 0 ? this.pool.sample(n) : randn([n, this.ctx.channels, this.ctx.imageSize, this.ctx.imageSize], 'float32', this.ctx.device);
  }
  synthState(): Map<string, Tensor> {
    const all = this.pool.all();
    return all ? new Map([['pool', all]]) : new Map();
  }
  synthMeta(): Record<string, number | boolean> {
    return { poolSize: this.pool.size };
  }
  loadSynthState(t: Map<string, Tensor>): void {
    const p = t.get('pool');
    if (p) this.pool.set(p, this.ctx.device);
  }
  override dispose(): void {
    super.dispose();
    this.bnHook.remove();
    this.pool.dispose();
  }
}

/**
 * DeepInversion + KD (Yin et al., CVPR 2020): images optimised directly for CE(T(x), y) + 10*BN + TV + L2,
 * kept in a pool; the student is distilled on the pool with KL (T=20).
 */
export const deepInversion: MethodDefinition<DeepInversionConfig> = {
  name: 'deepinv',
  description: 'DeepInversion + KD: pixels optimised for CE (class prior) + BN + image priors, KL (T = 20) student',
  schema: { method: z.literal('deepinv'), deepinv: DeepInversionSection },
  defaults: { deepinv: { innerSteps: 50, lr: 0.1, poolSize: 4096 } },
  published: {
    studentSteps: 10,
    generatorSteps: 1,
    weights: { bn: 10, tv: 1.5e-5, l2: 1e-5, adv: 0, classPrior: 1, ie: 0, act: 0, at: 0 },
    studentLoss: 'kl',
    temperature: 20,
  },
  legacy: { adversarial: 'none', selection: { enabled: false } },
  synthesizerLr: (c) => c.deepinv.lr,
  create: (ctx) => new DeepInversion(ctx),
};

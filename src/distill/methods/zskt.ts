/**
 * ZSKT: "Zero-shot Knowledge Transfer via Adversarial Belief Matching" (Micaelli & Storkey, NeurIPS 2019).
 *
 *   generator step:  x = G(z);  L_G = -KL(T(x) || S(x))          (seek samples where they disagree)
 *   student step:    L_S = KL(T(x) || S(x)) + 250 * sum_blocks mean (at_S - at_T)^2
 *                    at = L2-normalised channel-mean of squared block activations
 *   10 student steps per generator step.
 */
import { z } from 'zod';
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';
import { GENERATOR_DEFAULTS, generatorShape, type GeneratorConfig } from '../config-schema';
import type { MethodDefinition } from './registry';

export class ZSKT extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const { x } = this.synth.generate(this.cfg.batchSize);
    const adv = L.klAdversarial(this.student.call(x), this.teacher.call(x), this.cfg.temperature);
    return { loss: adv.mul(this.cfg.weights.adv), log: { adv: adv.item() } };
  }
}

/**
 * ZSKT (Micaelli & Storkey, NeurIPS 2019): generator maximises KL(T||S); student KL + 250 * attention
 * transfer; 10 student steps per generator step.
 */
export const zskt: MethodDefinition<GeneratorConfig> = {
  name: 'zskt',
  description: 'ZSKT: adversarial generator maximising KL(T||S), KL + attention-transfer student',
  schema: { ...generatorShape, method: z.literal('zskt') },
  defaults: { generator: GENERATOR_DEFAULTS },
  published: {
    studentSteps: 10,
    student: { optimizer: 'adam', lr: 2e-3 },
    generator: { lr: 2e-3 },
    weights: { bn: 0, tv: 0, l2: 0, adv: 1, classPrior: 0, ie: 0, act: 0, at: 250 },
    studentLoss: 'kl+at',
    temperature: 1,
  },
  legacy: { adversarial: 'kl', selection: { enabled: false } },
  synthesizerLr: (c) => c.generator.lr,
  create: (ctx) => new ZSKT(ctx),
};

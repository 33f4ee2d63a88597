/**
 * DFAD: "Data-Free Adversarial Distillation" (Fang et al., arXiv:1912.11006).
 *
 *   generator step:  x = G(z);  L_G = -mean |T(x) - S(x)|       (maximise the discrepancy)
 *   student step:    L_S = mean |T(x) - S(x)|                   (5 student steps per generator step)
 */
import { z } from 'zod';
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';
import { GENERATOR_DEFAULTS, generatorShape, type GeneratorConfig } from '../config-schema';
import type { MethodDefinition } from './registry';

export class DFAD extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const { x } = this.synth.generate(this.cfg.batchSize);
    const adv = L.negL1Adversarial(this.student.call(x), this.teacher.call(x));
    return { loss: adv.mul(this.cfg.weights.adv), log: { adv: adv.item() } };
  }
}

/**
 * DFAD (Fang et al., 2019): generator maximises mean|T - S|; student L1; 5 student steps per generator step.
 */
export const dfad: MethodDefinition<GeneratorConfig> = {
  name: 'dfad',
  description: 'DFAD: adversarial generator maximising mean |T - S|, L1 student, no class prior',
  schema: { ...generatorShape, method: z.literal('dfad') },
  defaults: { generator: GENERATOR_DEFAULTS },
  published: {
    studentSteps: 5,
    weights: { bn: 0, tv: 0, l2: 0, adv: 1, classPrior: 0, ie: 0, act: 0, at: 0 },
    studentLoss: 'l1',
  },
  legacy: { adversarial: 'neg-l1', selection: { enabled: false } },
  synthesizerLr: (c) => c.generator.lr,
  create: (ctx) => new DFAD(ctx),
};

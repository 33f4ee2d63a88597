/**
 * DAFL: "Data-Free Learning of Student Networks" (Chen et al., ICCV 2019).
 *
 *   generator step:  x = G(z); t, f = T(x)
 *                    L_G = w_oh CE(t, argmax t) + w_ie sum(pbar log10 pbar) - w_a mean|f|
 *   student step:    L_S = KL(softmax T(x) || softmax S(x))   (T = 1)
 *
 * One generator step per student step (published defaults: oh 1, ie 5, a 0.1).
 */
import { z } from 'zod';
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';
import { GENERATOR_DEFAULTS, generatorShape, type GeneratorConfig } from '../config-schema';
import type { MethodDefinition } from './registry';

export class DAFL extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const w = this.cfg.weights;
    const { x } = this.synth.generate(this.cfg.batchSize);
    const { logits: t, features } = this.teacherWithFeatures(x);
    const oh = L.classPrior(t);
    const ie = L.informationEntropy(t);
    const act = L.activationLoss(features);
    const loss = oh.mul(w.classPrior).add(ie.mul(w.ie)).add(act.mul(w.act));
    return { loss, log: { one_hot: oh.item(), ie: ie.item(), act: act.item() } };
  }
}

/**
 * DAFL (Chen et al., ICCV 2019): one-hot 1, information entropy 5, activation 0.1; KL (T=1) student;
 * 1:1 steps; no BN, no adversarial term.
 */
export const dafl: MethodDefinition<GeneratorConfig> = {
  name: 'dafl',
  description: 'DAFL: one-hot (class prior) + information entropy + activation generator loss, KL student',
  schema: { ...generatorShape, method: z.literal('dafl') },
  defaults: { generator: GENERATOR_DEFAULTS },
  published: {
    studentSteps: 1,
    student: { optimizer: 'adam', lr: 2e-3 },
    weights: { bn: 0, tv: 0, l2: 0, adv: 0, classPrior: 1, ie: 5, act: 0.1, at: 0 },
    studentLoss: 'kl',
    temperature: 1,
  },
  legacy: { adversarial: 'none', selection: { enabled: false } },
  synthesizerLr: (c) => c.generator.lr,
  create: (ctx) => new DAFL(ctx),
};

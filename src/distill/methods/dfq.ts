/**
 * DFQ-style class-prior generator (Choi et al., CVPRW 2020; the "dfq" synthesizer of Fast-Datafree).
 *
 *   generator step:  x = G(z); t = T(x)   (BN hooks record L_BN)
 *                    agree = [argmax S(x) == argmax t]
 *                    L_G = w_bn L_BN + w_oh CE(t, argmax t) - w_adv mean(agree * KL(T(x) || S(x)))
 *   student step:    L_S = KL with temperature T (20)
 *   5 student steps per generator step.
 */
import { z } from 'zod';
import { Tensor, F } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';
import { GENERATOR_DEFAULTS, generatorShape, type GeneratorConfig } from '../config-schema';
import type { MethodDefinition } from './registry';

export class DFQ extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const w = this.cfg.weights;
    const { x } = this.synth.generate(this.cfg.batchSize);
    const { logits: t, bn } = this.teacherWithBN(x);
    const s = this.student.call(x);
    const agree = s.argmax(1).eq(t.argmax(1)).float().detach();
    const T = this.cfg.temperature;
    const klPerSample = F.klDiv(s.div(T).logSoftmax(1), t.div(T).softmax(1), { reduction: 'none' }).sum(1);
    const adv = klPerSample.mul(agree).mean().neg();
    const oh = L.classPrior(t);
    let loss = oh.mul(w.classPrior).add(adv.mul(w.adv));
    const log: StepLog = { one_hot: oh.item(), adv: adv.item() };
    if (bn) {
      loss = loss.add(bn.mul(w.bn));
      log.bn = bn.item();
    }
    return { loss, log };
  }
}

/**
 * DFQ-style class-prior generator (Choi et al. 2020; Fast-Datafree "dfq"): BN 1 + one-hot 1 + adversarial 1
 * (KL(S||T) masked to samples where T and S agree); student KL with temperature; 5:1 steps.
 */
export const dfq: MethodDefinition<GeneratorConfig> = {
  name: 'dfq',
  description: 'DFQ-style: BN + one-hot (class prior) + masked adversarial KL generator, KL (T = 20) student',
  schema: { ...generatorShape, method: z.literal('dfq') },
  defaults: { generator: GENERATOR_DEFAULTS },
  published: {
    studentSteps: 5,
    weights: { bn: 1, tv: 0, l2: 0, adv: 1, classPrior: 1, ie: 0, act: 0, at: 0 },
    studentLoss: 'kl',
    temperature: 20,
  },
  legacy: { adversarial: 'masked-kl', selection: { enabled: false } },
  synthesizerLr: (c) => c.generator.lr,
  create: (ctx) => new DFQ(ctx),
};

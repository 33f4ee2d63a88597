/**
 * DFAD: "Data-Free Adversarial Distillation" (Fang et al., arXiv:1912.11006).
 *
 *   generator step:  x = G(z);  L_G = -mean |T(x) - S(x)|       (maximise the discrepancy)
 *   student step:    L_S = mean |T(x) - S(x)|                   (5 student steps per generator step)
 */
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';

export class DFAD extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const { x } = this.synth.generate(this.cfg.batchSize);
    const adv = L.negL1Adversarial(this.student.call(x), this.teacher.call(x));
    return { loss: adv.mul(this.cfg.weights.adv), log: { adv: adv.item() } };
  }
}

/**
 * ZSKT: "Zero-shot Knowledge Transfer via Adversarial Belief Matching" (Micaelli & Storkey, NeurIPS 2019).
 *
 *   generator step:  x = G(z);  L_G = -KL(T(x) || S(x))          (seek samples where they disagree)
 *   student step:    L_S = KL(T(x) || S(x)) + 250 * sum_blocks mean (at_S - at_T)^2
 *                    at = L2-normalised channel-mean of squared block activations
 *   10 student steps per generator step.
 */
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';

export class ZSKT extends GeneratorMethod {
  protected generatorLoss(): { loss: Tensor; log: StepLog } {
    const { x } = this.synth.generate(this.cfg.batchSize);
    const adv = L.klAdversarial(this.student.call(x), this.teacher.call(x), this.cfg.temperature);
    return { loss: adv.mul(this.cfg.weights.adv), log: { adv: adv.item() } };
  }
}

/**
 * DAFL: "Data-Free Learning of Student Networks" (Chen et al., ICCV 2019).
 *
 *   generator step:  x = G(z); t, f = T(x)
 *                    L_G = w_oh CE(t, argmax t) + w_ie sum(pbar log10 pbar) - w_a mean|f|
 *   student step:    L_S = KL(softmax T(x) || softmax S(x))   (T = 1)
 *
 * One generator step per student step (published defaults: oh 1, ie 5, a 0.1).
 */
import { Tensor } from '../../tensor';
import { GeneratorMethod, StepLog } from '../method';
import * as L from '../losses';

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

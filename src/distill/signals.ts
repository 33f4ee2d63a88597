/**
 * Data-free trust signals: how far to trust a student without any real data. All are computed
 * from the teacher, the student and fresh synthetic samples that the student never trained on.
 *
 *   agreement      top-1 agreement of student and teacher on fresh synthetic samples, [0, 1];
 *                  low means the student has not learned the teacher's decisions there.
 *   logitDistance  mean |S(x) - T(x)| over samples and classes, >= 0; high is bad.
 *   coverage       entropy of the teacher's predicted-class histogram divided by log K, [0, 1];
 *                  1 = every class equally often; near 0 = the generator makes one class (collapse).
 *   missingClasses classes the teacher never predicts on the synthetic batch, 0..K-1; > 0 means the
 *                  student gets no signal for those classes.
 *   diversity      mean pairwise cosine distance of the teacher's penultimate features, [0, 2];
 *                  near 0 = all samples look the same to the teacher (mode collapse).
 *   confidence     mean max softmax of the teacher on synthetic samples, [1/K, 1].
 *   trust          one number, agreement x coverage x min(1, diversity / 0.1), in [0, 1]: the student
 *                  agrees with the teacher on synthetic data that spans the classes and is not
 *                  collapsed. See docs/trust.md for how well it tracks real accuracy.
 */
import { Tensor, noGrad, tidy } from '../tensor';
import type { Classifier } from '../models/registry';
import { FeatureRecorder } from './features';

export interface TrustSignals {
  agreement: number;
  logitDistance: number;
  coverage: number;
  missingClasses: number;
  diversity: number;
  confidence: number;
  trust: number;
}

/** Source of fresh synthetic samples (normalised images). */
export interface SampleSource {
  freshSamples(n: number): Tensor;
}

export { COLLAPSE_COVERAGE, COLLAPSE_DIVERSITY, collapseReasons, collapseEvents } from './collapse';

export function computeSignals(teacher: Classifier, student: Classifier, source: SampleSource, o: { n: number }): TrustSignals {
  const sWas = student.training;
  student.eval();
  const rec = new FeatureRecorder([teacher.featureLayer], 'input');
  try {
    return tidy(() =>
      noGrad(() => {
        const x = source.freshSamples(o.n);
        const { result: t, features } = rec.capture(() => teacher.call(x));
        const s = student.call(x);
        return signalsFrom(t, s, features[0].flatten(1));
      }),
    );
  } finally {
    rec.remove();
    student.train(sWas);
  }
}

/** The signals from teacher logits, student logits and teacher features of the same batch. */
export function signalsFrom(t: Tensor, s: Tensor, feats: Tensor): TrustSignals {
  return tidy(() => {
    const n = t.shape[0];
    const k = t.shape[1];
    const tp = t.argmax(1);
    const agreement = s.argmax(1).eq(tp).float().mean().item();
    const logitDistance = s.sub(t).abs().mean().item();
    const confidence = t.softmax(1).max(1).mean().item();
    const pred = tp.toInt32Array();
    const hist = new Array<number>(k).fill(0);
    for (const p of pred) hist[p] += 1;
    let h = 0;
    for (const c of hist) if (c > 0) h -= (c / n) * Math.log(c / n);
    const coverage = k > 1 ? h / Math.log(k) : 1;
    const missingClasses = hist.filter((c) => c === 0).length;
    const f = feats.div(feats.norm(2, 1, true).clamp(1e-8));
    const cos = f.matmul(f.transpose(0, 1));
    // mean over off-diagonal pairs of (1 - cos)
    const diversity = n > 1 ? (n * n - cos.sum().item()) / (n * (n - 1)) : 0;
    const trust = agreement * coverage * Math.min(1, Math.max(0, diversity) / 0.1);
    return { agreement, logitDistance, coverage, missingClasses, diversity, confidence, trust };
  });
}

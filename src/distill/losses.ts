/**
 * The loss functions of TA-DFKD and the baseline methods, as small pure functions over logits,
 * features and images. Each documents the paper/code it follows.
 */
import { Tensor, F } from '../tensor';

/** L1 distance between raw logits, mean over batch and classes (DFAD, TA-DFKD student loss). */
export function l1Logits(student: Tensor, teacher: Tensor): Tensor {
  return F.l1Loss(student, teacher, 'mean');
}

/**
 * L1 distance between logits each centred on its own mean over the classes, mean over batch and classes.
 * A softmax does not see a logit vector's offset, so the teacher's per-sample offset is no knowledge;
 * plain L1 still asks the student to reproduce it. Equal to l1Logits when both means are equal.
 */
export function l1CenteredLogits(student: Tensor, teacher: Tensor): Tensor {
  return F.l1Loss(student.sub(student.mean(1, true)), teacher.sub(teacher.mean(1, true)), 'mean');
}

/**
 * KL(softmax(t/T) || softmax(s/T)) * T^2, averaged over the batch (Hinton KD; DAFL uses T=1,
 * DFQ/DeepInversion KD a higher T).
 */
export function klTemperature(student: Tensor, teacher: Tensor, temperature = 1): Tensor {
  const logP = student.div(temperature).logSoftmax(1);
  const q = teacher.div(temperature).softmax(1);
  return F.klDiv(logP, q, { reduction: 'batchmean' }).mul(temperature * temperature);
}

/**
 * The clamped Jensen-Shannon "competition" term of DeepInversion used as TA-DFKD's adversarial loss:
 * P = softmax(s/T), Q = softmax(t/T), M = (P+Q)/2, all clamped to [0.01, 0.99];
 * JS = 0.5 KL(M||P) + 0.5 KL(M||Q) averaged over batch*classes (`reduction` 'mean'; 'batchmean': summed
 * over classes and averaged over the batch, as DeepInversion's ADI term); returns 1 - clamp(JS, 0, 1).
 * The generator minimises it, i.e. maximises teacher-student disagreement.
 */
export function jsAdversarial(student: Tensor, teacher: Tensor, temperature = 3, reduction: 'mean' | 'batchmean' = 'mean'): Tensor {
  const p = student.div(temperature).softmax(1);
  const q = teacher.div(temperature).softmax(1);
  const m = p.add(q).mul(0.5).clamp(0.01, 0.99);
  const pc = p.clamp(0.01, 0.99);
  const qc = q.clamp(0.01, 0.99);
  const js = F.klDiv(pc.log(), m, { reduction }).mul(0.5).add(F.klDiv(qc.log(), m, { reduction }).mul(0.5));
  return js.clamp(0, 1).rsub(1);
}

/** DFAD's generator objective: minimise -mean|S(x) - T(x)| (maximise the L1 disagreement). */
export function negL1Adversarial(student: Tensor, teacher: Tensor): Tensor {
  return l1Logits(student, teacher).neg();
}

/** ZSKT's generator objective: minimise -KL(T || S) (temperature 1). */
export function klAdversarial(student: Tensor, teacher: Tensor, temperature = 1): Tensor {
  return klTemperature(student, teacher, temperature).neg();
}

/** Per-sample cross-entropy of the teacher against its own argmax: -log max softmax (TA-DFKD's selection loss). */
export function selfCrossEntropyPerSample(teacher: Tensor): Tensor {
  return F.crossEntropy(teacher, teacher.argmax(1), { reduction: 'none' });
}

/** Class-prior (one-hot) loss of DAFL/DFQ: mean CE of the teacher against its own argmax. */
export function classPrior(teacher: Tensor): Tensor {
  return F.crossEntropy(teacher, teacher.argmax(1).detach());
}

/**
 * DAFL's information-entropy loss: sum_k pbar_k log10 pbar_k with pbar the batch-mean teacher
 * softmax. Minimising it (it is a negative entropy) balances the classes. DAFL uses log10; kept here.
 */
export function informationEntropy(teacher: Tensor): Tensor {
  const pbar = teacher.softmax(1).mean(0);
  return pbar.mul(pbar.log().div(Math.LN10)).sum();
}

/**
 * Within-class feature similarity (a dfkd addition, `tadfkd.diversity`): the mean cosine similarity of
 * the teacher's penultimate features over the pairs i != j of a batch that the teacher assigns the same
 * class (argmax of `logits`, no gradient through the assignment); 0 when no class has two samples.
 * Minimised by the generator, it spreads the samples of each class apart in the teacher's feature space.
 */
export function withinClassSimilarity(features: Tensor, logits: Tensor): Tensor {
  const f = features.flatten(1);
  const fn = f.div(f.norm(2, 1, true).clamp(1e-8));
  const oh = F.oneHot(logits.argmax(1), logits.shape[1]).float();
  const same = oh.matmul(oh.transpose(0, 1));
  const n = f.shape[0];
  const pairs = same.sum().item() - n;
  // sum over same-class pairs including i = j, minus the diagonal (|fn_i|^2: 1, or 0 for a zero feature).
  const total = fn.matmul(fn.transpose(0, 1)).mul(same).sum().sub(fn.pow(2).sum());
  return total.div(Math.max(1, pairs));
}

/** DAFL's activation loss: -mean |f| of the teacher's penultimate features. */
export function activationLoss(features: Tensor): Tensor {
  return features.abs().mean().neg();
}

/** Attention map of a block output [N,C,H,W] resized to `size`: L2-normalised channel-mean of x^2, flattened. */
export function attentionMap(x: Tensor, size?: [number, number]): Tensor {
  let a = x.pow(2).mean(1, true);
  if (size && (a.shape[2] !== size[0] || a.shape[3] !== size[1])) a = F.adaptiveAvgPool2d(a, size);
  const flat = a.flatten(1);
  return flat.div(flat.norm(2, 1, true).clamp(1e-12));
}

/**
 * ZSKT attention transfer: sum over block pairs of mean (at(s) - at(t))^2. Blocks are paired from
 * the output side (the last min(nS, nT) blocks); when a pair's spatial sizes differ (e.g. a ResNet
 * teacher and a LeNet student) the larger attention map is average-pooled to the smaller size.
 */
export function attentionTransfer(studentBlocks: Tensor[], teacherBlocks: Tensor[]): Tensor {
  const k = Math.min(studentBlocks.length, teacherBlocks.length);
  if (k === 0) throw new Error('attentionTransfer: need at least one student and one teacher block');
  let total: Tensor | undefined;
  for (let i = 0; i < k; i++) {
    const s = studentBlocks[studentBlocks.length - k + i];
    const t = teacherBlocks[teacherBlocks.length - k + i];
    const size: [number, number] = [Math.min(s.shape[2], t.shape[2]), Math.min(s.shape[3], t.shape[3])];
    const term = attentionMap(s, size).sub(attentionMap(t, size)).pow(2).mean();
    total = total ? total.add(term) : term;
  }
  return total!;
}

/**
 * Total-variation prior of DeepInversion/TA-DFKD: the sum of the Frobenius norms of the four
 * directional pixel differences (horizontal, vertical and both diagonals).
 */
export function totalVariation(x: Tensor): Tensor {
  const [, , h, w] = x.shape;
  const d1 = x.narrow(3, 0, w - 1).sub(x.narrow(3, 1, w - 1));
  const d2 = x.narrow(2, 0, h - 1).sub(x.narrow(2, 1, h - 1));
  const d3 = x.narrow(2, 1, h - 1).narrow(3, 0, w - 1).sub(x.narrow(2, 0, h - 1).narrow(3, 1, w - 1));
  const d4 = x.narrow(2, 0, h - 1).narrow(3, 0, w - 1).sub(x.narrow(2, 1, h - 1).narrow(3, 1, w - 1));
  return d1.norm().add(d2.norm()).add(d3.norm()).add(d4.norm());
}

/** L2 prior: the L2 norm of the (normalised) image batch. */
export function l2Prior(x: Tensor): Tensor {
  return x.norm();
}

/**
 * BatchNorm-statistics loss for one BN input [N,C,...]: ||mean - running_mean||_2 +
 * ||var_biased - running_var||_2 (plain, unsquared norms; DeepInversion/TA-DFKD).
 */
export function bnStatLoss(input: Tensor, runningMean: Tensor, runningVar: Tensor): Tensor {
  const dims = input.ndim === 4 ? [0, 2, 3] : [0];
  const mean = input.mean(dims);
  const v = input.var(dims, false);
  return mean.sub(runningMean).norm().add(v.sub(runningVar).norm());
}

/**
 * Scale-free BatchNorm-statistics loss for one BN input [N,C,...] (a dfkd addition, `tadfkd.bnScale: 'std'`):
 * per channel, the mean difference in units of the running std, (mean - rm) / sqrt(rv + eps), and the
 * relative variance error, var_biased / (rv + eps) - 1; each is reduced to its root mean square over
 * channels and the two are added. A layer whose statistics are off by one running std counts 1 whatever
 * its width or activation scale, where the raw loss grows with both.
 */
export function bnStatLossStd(input: Tensor, runningMean: Tensor, runningVar: Tensor, eps = 1e-5): Tensor {
  const dims = input.ndim === 4 ? [0, 2, 3] : [0];
  const c = runningMean.shape[0];
  const denom = runningVar.add(eps);
  const dm = input.mean(dims).sub(runningMean).div(denom.sqrt());
  const dv = input.var(dims, false).div(denom).sub(1);
  return dm.norm().add(dv.norm()).div(Math.sqrt(c));
}

/**
 * The direction of the teacher's decision at each sample: one-hot of its top class minus one-hot of its
 * runner-up ([N, K], float). The input gradient of `sum(logits * direction)` is the gradient of each
 * sample's top-2 margin: which input change moves the sample across the teacher's nearest boundary.
 */
export function marginDirection(teacher: Tensor): Tensor {
  const [, idx] = teacher.topk(2, 1);
  const k = teacher.shape[1];
  return F.oneHot(idx.select(1, 0), k).sub(F.oneHot(idx.select(1, 1), k)).float();
}

/**
 * Input-gradient (Jacobian) matching of Srinivas & Fleuret ("Knowledge transfer with Jacobian matching",
 * ICML 2018): mean over rows of || g_s / |g_s| - g_t / |g_t| ||^2, each row's gradient flattened and scaled
 * to unit length, so the term is in [0, 4] and compares directions only.
 */
export function inputGradientMatch(gs: Tensor, gt: Tensor): Tensor {
  const unit = (g: Tensor): Tensor => {
    const f = g.flatten(1);
    return f.div(f.norm(2, 1, true).add(1e-12));
  };
  return unit(gs).sub(unit(gt)).square().sum(1).mean();
}

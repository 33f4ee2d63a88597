/** Accuracy, per-class accuracy, confusion matrix and calibration of a classifier on a labelled set. */
import { Module } from '../nn';
import { noGrad, sameDevice } from '../tensor';
import { DatasetTensors, forEachBatch } from '../data/tensors';

export interface EvalResult {
  n: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Expected calibration error (15 equal-width confidence bins). */
  ece: number;
  /** Mean of the max softmax probability. */
  meanConfidence: number;
}

/**
 * Evaluates `model` in eval mode without gradients; restores its previous train/eval mode. The data
 * may live on any device: each batch is moved to the model's device (a GPU model evaluates CPU data).
 */
export function evaluate(model: Module, data: DatasetTensors, numClasses: number, batchSize = 500): EvalResult {
  const wasTraining = model.training;
  model.eval();
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  const bins = 15;
  const binCount = new Array<number>(bins).fill(0);
  const binConf = new Array<number>(bins).fill(0);
  const binCorrect = new Array<number>(bins).fill(0);
  let confSum = 0;
  try {
    const device = model.device;
    noGrad(() =>
      forEachBatch(data, batchSize, (x, y) => {
        const logits = model.call(sameDevice(x.device, device) ? x : x.to(device));
        const [conf, pred] = logits.softmax(1).maxWithIndices(1);
        const p = pred.toInt32Array();
        const c = conf.toFloat32Array();
        const t = y.toInt32Array();
        for (let i = 0; i < p.length; i++) {
          confusion[t[i]][p[i]] += 1;
          const b = Math.min(bins - 1, Math.floor(c[i] * bins));
          binCount[b] += 1;
          binConf[b] += c[i];
          binCorrect[b] += p[i] === t[i] ? 1 : 0;
          confSum += c[i];
        }
      }),
    );
  } finally {
    model.train(wasTraining);
  }
  const n = data.n;
  let correct = 0;
  for (let k = 0; k < numClasses; k++) correct += confusion[k][k];
  const perClassAccuracy = confusion.map((row, k) => {
    const tot = row.reduce((a, b) => a + b, 0);
    return tot > 0 ? row[k] / tot : NaN;
  });
  let ece = 0;
  for (let b = 0; b < bins; b++) if (binCount[b] > 0) ece += (binCount[b] / n) * Math.abs(binCorrect[b] / binCount[b] - binConf[b] / binCount[b]);
  return { n, accuracy: n > 0 ? correct / n : NaN, perClassAccuracy, confusion, ece, meanConfidence: n > 0 ? confSum / n : NaN };
}

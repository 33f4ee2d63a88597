#!/usr/bin/env node
/**
 * Diagnostic (evaluation only; real data never trains anything): how a teacher's penultimate features
 * spread over real test images and over a TA-DFKD run's generated samples. For each it prints the mean
 * cosine similarity of the features over same-class pairs (the class the teacher assigns) and over all
 * pairs, and the teacher's mean max-softmax. Generated samples come from the run's latest checkpoint,
 * all of a draw (before the selection), with the generator in train mode as in the run.
 *   node scripts/tadfkd-ablation/feature-spread.js TEACHER_DIR [RUN_DIR...] [--n 512] [--seed 0]
 */
const path = require('path');
const { takeNumber } = require('./args');
const { runGenerator } = require('./checkpoint');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadTeacher } = require(`${D}/train/teacher`);
const { getDatasetInfo, loadDataset } = require(`${D}/data/registry`);
const { toTensors } = require(`${D}/data/tensors`);
const { FeatureRecorder } = require(`${D}/distill/features`);
const { withinClassSimilarity } = require(`${D}/distill/losses`);
const { manualSeed, noGrad, tidy } = require(`${D}/tensor`);

const args = process.argv.slice(2);
const n = takeNumber(args, '--n', 512);
manualSeed(takeNumber(args, '--seed', 0));
const [teacherDir, ...runDirs] = args;
if (!teacherDir) {
  console.error('usage: feature-spread.js TEACHER_DIR [RUN_DIR...] [--n 512] [--seed 0]');
  process.exit(2);
}
const { model: T, record: rec } = loadTeacher(teacherDir);
T.eval();
const info = getDatasetInfo(rec.dataset);
const recorder = new FeatureRecorder([T.featureLayer], 'input');

/** The spread of the teacher's features on a batch x. */
function spread(x) {
  return tidy(() =>
    noGrad(() => {
      const { result: t, features } = recorder.capture(() => T.call(x));
      const f = features[0].flatten(1);
      const fn = f.div(f.norm(2, 1, true).clamp(1e-8));
      const m = f.shape[0];
      const all = (fn.matmul(fn.transpose(0, 1)).sum().item() - fn.pow(2).sum().item()) / (m * (m - 1));
      const within = withinClassSimilarity(f, t).item();
      const confidence = t.softmax(1).max(1).mean().item();
      return { within: +within.toFixed(3), allPairs: +all.toFixed(3), confidence: +confidence.toFixed(3) };
    }),
  );
}

/** n samples of a run's generator at its latest checkpoint. */
function generated(runDir) {
  const { synth, iteration } = runGenerator(runDir, rec, info);
  // Train mode (batch statistics), as the run draws its samples.
  synth.generator.train();
  return { x: noGrad(() => synth.sample(n)), iteration };
}

const test = toTensors(loadDataset(rec.dataset, 'test'), info);
const rows = [{ source: `real test images (first ${n})`, ...spread(test.x.narrow(0, 0, n)) }];
for (const dir of runDirs) {
  const { x, iteration } = generated(dir);
  rows.push({ source: `${path.basename(dir)} at iteration ${iteration}`, ...spread(x) });
}
console.log(`teacher ${teacherDir} (${rec.arch}): cosine similarity of its penultimate features, mean max-softmax`);
console.table(rows);

#!/usr/bin/env node
/**
 * Evaluation only (after a run): does the final student's accuracy depend on its BN statistics? Re-estimates
 * them (weights unchanged) on a data-free image set cached beside the teacher (the anchors or the probe set:
 * a safetensors file with a `probe` tensor of normalised inputs), 1, 5 and 20 passes in batches of 128 at the
 * student's BN momentum from reset statistics, and prints the real test accuracy as saved and after each.
 *   node scripts/tadfkd-ablation/bn-recal.js RUN_DIR TEACHER_DIR/anchors-HASH.safetensors
 * With `real` instead of a file: the 60,000 real training images, without labels (a reference only: real data,
 * never part of a method).
 */
const path = require('path');
const fs = require('fs');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadStudent } = require(`${D}/distill/run`);
const { loadTeacher } = require(`${D}/train/teacher`);
const { evaluate } = require(`${D}/train/evaluate`);
const { getDatasetInfo, loadDataset } = require(`${D}/data/registry`);
const { toTensors } = require(`${D}/data/tensors`);
const { loadTensors } = require(`${D}/io/weights`);
const { tidy, noGrad } = require(`${D}/tensor`);

const [dir, file] = process.argv.slice(2);
if (!dir || !file) {
  console.error('usage: bn-recal.js RUN_DIR IMAGES.safetensors|real');
  process.exit(2);
}
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const { record: tr } = loadTeacher(cfg.teacher.dir);
const test = toTensors(loadDataset(tr.dataset, 'test'), getDatasetInfo(tr.dataset));
const pct = (m) => (100 * evaluate(m, test, tr.numClasses).accuracy).toFixed(2);
console.log(`${dir}: as saved ${pct(loadStudent(dir).model)}%`);
const images = file === 'real' ? toTensors(loadDataset(tr.dataset, 'train'), getDatasetInfo(tr.dataset)).x : loadTensors(file).tensors.get('probe');
if (!images) throw new Error(`${file}: no 'probe' tensor`);
for (const passes of [1, 5, 20]) {
  const { model } = loadStudent(dir);
  model.train();
  for (const [k, t] of model.stateDict()) {
    if (k.endsWith('running_mean')) t.zero_();
    if (k.endsWith('running_var')) t.fill_(1);
  }
  noGrad(() => {
    for (let p = 0; p < passes; p++) for (let i = 0; i + 128 <= images.shape[0]; i += 128) tidy(() => void model.call(images.slice(0, i, i + 128)));
  });
  console.log(`  BN statistics re-estimated on ${file === 'real' ? 'the real training images' : path.basename(file)}, ${passes} pass(es): ${pct(model)}%`);
}

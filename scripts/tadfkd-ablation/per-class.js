#!/usr/bin/env node
/**
 * Evaluation only (after a run): per-class test accuracy of finished students next to their teacher's,
 * and the student-teacher top-1 agreement on the real test set.
 *   node scripts/tadfkd-ablation/per-class.js RUN_DIR...
 */
const path = require('path');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadStudent } = require(`${D}/distill/run`);
const { loadTeacher } = require(`${D}/train/teacher`);
const { evaluate } = require(`${D}/train/evaluate`);
const { getDatasetInfo, loadDataset } = require(`${D}/data/registry`);
const { toTensors, forEachBatch } = require(`${D}/data/tensors`);
const { tidy, noGrad } = require(`${D}/tensor`);
const fs = require('fs');

for (const dir of process.argv.slice(2)) {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const { model: T, record: tr } = loadTeacher(cfg.teacher.dir);
  T.eval();
  const { model: S } = loadStudent(dir);
  const info = getDatasetInfo(tr.dataset);
  const test = toTensors(loadDataset(tr.dataset, 'test'), info);
  const es = evaluate(S, test, tr.numClasses);
  const et = evaluate(T, test, tr.numClasses);
  let agree = 0;
  let n = 0;
  forEachBatch(test, 1000, (x) => tidy(() => noGrad(() => { agree += T.call(x).argmax(1).eq(S.call(x).argmax(1)).sum().item(); n += x.shape[0]; })));
  const f = (a) => a.map((v) => (100 * v).toFixed(0)).join(' ');
  console.log(`${path.basename(dir)}: student ${(100 * es.accuracy).toFixed(2)}, teacher ${(100 * et.accuracy).toFixed(2)}, agreement on test ${(100 * agree / n).toFixed(1)}%`);
  console.log(`  per class student: ${f(es.perClassAccuracy)}`);
  console.log(`  per class teacher: ${f(et.perClassAccuracy)}`);
}

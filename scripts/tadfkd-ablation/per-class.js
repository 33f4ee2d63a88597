#!/usr/bin/env node
/**
 * Evaluation only (after a run): per-class test accuracy of finished students next to their teacher's,
 * the student-teacher top-1 agreement on the real test set, and where the student sends the real images of
 * its two weakest classes (a row of the confusion matrix each).
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
  const conf = Array.from({ length: tr.numClasses }, () => new Array(tr.numClasses).fill(0));
  forEachBatch(test, 1000, (x, y) =>
    tidy(() =>
      noGrad(() => {
        const ps = S.call(x).argmax(1);
        agree += T.call(x).argmax(1).eq(ps).sum().item();
        n += x.shape[0];
        const pa = ps.toArray();
        const ya = y.toArray();
        for (let i = 0; i < pa.length; i++) conf[Number(ya[i])][Number(pa[i])] += 1;
      }),
    ),
  );
  const f = (a) => a.map((v) => (100 * v).toFixed(0)).join(' ');
  console.log(`${path.basename(dir)}: student ${(100 * es.accuracy).toFixed(2)}, teacher ${(100 * et.accuracy).toFixed(2)}, agreement on test ${(100 * agree / n).toFixed(1)}%`);
  console.log(`  per class student: ${f(es.perClassAccuracy)}`);
  console.log(`  per class teacher: ${f(et.perClassAccuracy)}`);
  const weakest = es.perClassAccuracy.map((a, k) => [a, k]).sort((a, b) => a[0] - b[0]).slice(0, 2);
  for (const [, k] of weakest) console.log(`  real class ${k} -> student's classes: ${conf[k].join(' ')}`);
}

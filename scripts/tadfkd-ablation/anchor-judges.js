#!/usr/bin/env node
/**
 * Diagnostic, no real data: do other teachers ("judges", trained on the same real data) read a teacher's
 * cached anchors (anchors-<hash>.safetensors beside it; anchor i targets class i mod K) as their target
 * classes? Prints, per judge, the share of anchors it assigns to the target class, overall and per class.
 *   node scripts/tadfkd-ablation/anchor-judges.js ANCHORS_FILE JUDGE_TEACHER_DIR...
 */
const path = require('path');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadSafetensors } = require(`${D}/io/safetensors`);
const { loadTeacher } = require(`${D}/train/teacher`);
const { tensor, noGrad, tidy } = require(`${D}/tensor`);

const [file, ...judges] = process.argv.slice(2);
if (!file || judges.length === 0) {
  console.error('usage: anchor-judges.js ANCHORS_FILE JUDGE_TEACHER_DIR...');
  process.exit(2);
}
const a = Object.values(loadSafetensors(file).tensors)[0];
const x = tensor(a.data, a.shape);
const n = a.shape[0];
const rows = judges.map((dir) => {
  const { model, record } = loadTeacher(dir);
  model.eval();
  const K = record.numClasses;
  const pred = tidy(() => noGrad(() => model.call(x).argmax(1).toInt32Array()));
  const per = new Array(K).fill(0);
  pred.forEach((p, i) => (per[i % K] += p === i % K ? 1 : 0));
  const hit = per.reduce((s, v) => s + v, 0) / n;
  return { judge: dir, 'target class': +hit.toFixed(3), 'per class %': per.map((v) => Math.round((100 * v * K) / n)).join(' ') };
});
console.log(`${file}: ${n} anchors`);
console.table(rows);

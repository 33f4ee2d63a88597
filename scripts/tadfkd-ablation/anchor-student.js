#!/usr/bin/env node
/**
 * Diagnostic: how much a teacher's anchors (tadfkd.anchors: images inverted from the teacher alone with
 * the probe set's DeepInversion recipe, src/distill/probe.ts) teach on their own. It inverts N images
 * (seed 1, as the anchors), trains a fresh lenet5-half student on them alone (teacher logits, L1 as
 * TA-DFKD's student loss; Adam 1e-3, batch 128, seed 0), and prints its accuracy on the real test set,
 * which only evaluates. --lr sets the inversion's Adam learning rate (0.1, the probe's) and --cosine 1
 * decays it to 0 over the steps. --real 1 trains on the first N real training images instead (the harness's
 * reference: what N images that look like the data teach the same student; with --n 60000 and the study's
 * 3,000 steps, the student's ceiling with real data). --student ARCH trains another student (the capacity
 * question: does a larger student fit the same teacher better?).
 *   node scripts/tadfkd-ablation/anchor-student.js TEACHER_DIR [--n 512] [--steps 200] [--bn 10]
 *     [--train-steps 1500] [--real 0] [--lr 0.1] [--cosine 0] [--student lenet5-half]
 */
const path = require('path');
const { takeNumber, takeString } = require('./args');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadTeacher } = require(`${D}/train/teacher`);
const { getDatasetInfo, loadDataset } = require(`${D}/data/registry`);
const { toTensors } = require(`${D}/data/tensors`);
const { evaluate } = require(`${D}/train/evaluate`);
const { buildModel } = require(`${D}/models`);
const { synthesizeProbe } = require(`${D}/distill/probe`);
const { Adam } = require(`${D}/optim`);
const { l1Logits } = require(`${D}/distill/losses`);
const { manualSeed, noGrad, tidy, keep, randint, cat } = require(`${D}/tensor`);

const args = process.argv.slice(2);
const n = takeNumber(args, '--n', 512);
const steps = takeNumber(args, '--steps', 200);
const bnWeight = takeNumber(args, '--bn', 10);
const trainSteps = takeNumber(args, '--train-steps', 1500);
const real = takeNumber(args, '--real', 0);
const cosine = takeNumber(args, '--cosine', 0);
const lr = takeNumber(args, '--lr', 0.1);
const studentArch = takeString(args, '--student', 'lenet5-half');
const [teacherDir] = args;
if (!teacherDir) {
  console.error('usage: anchor-student.js TEACHER_DIR [--n 512] [--steps 200] [--bn 10] [--train-steps 1500] [--real 0] [--lr 0.1] [--cosine 0] [--student lenet5-half]');
  process.exit(2);
}
const { model: T, record: rec } = loadTeacher(teacherDir);
T.eval();
const info = getDatasetInfo(rec.dataset);
const t0 = Date.now();
const x = keep(
  real
    ? toTensors(loadDataset(rec.dataset, 'train'), info).x.narrow(0, 0, n)
    : synthesizeProbe(T, { channels: rec.inChannels, imageSize: rec.imageSize, numClasses: rec.numClasses }, { n, steps, bnWeight, seed: 1, lr, lrSchedule: cosine ? 'cosine' : 'constant' }),
);
const madeIn = (Date.now() - t0) / 1000;
// The teacher's logits in chunks of 1,000 (a ResNet-8 forward on 60,000 images at once needs gigabytes).
const chunks = [];
for (let i = 0; i < n; i += 1000) chunks.push(keep(noGrad(() => T.call(x.narrow(0, i, Math.min(1000, n - i))))));
const tx = keep(cat(chunks, 0));
for (const c of chunks) c.dispose();
manualSeed(0);
const S = buildModel(studentArch, { inChannels: rec.inChannels, numClasses: rec.numClasses, imageSize: rec.imageSize });
const opt = new Adam(S.parameters(), { lr: 1e-3 });
S.train();
for (let k = 0; k < trainSteps; k++) {
  tidy(() => {
    const idx = randint(0, n, [128]);
    const loss = l1Logits(S.call(x.indexSelect(0, idx)), tx.indexSelect(0, idx));
    opt.zeroGrad();
    loss.backward();
    opt.step();
  });
}
const r = evaluate(S, toTensors(loadDataset(rec.dataset, 'test'), info), rec.numClasses);
const what = real ? `the first ${n} real training images` : `${n} anchors (${steps} inversion steps, lr ${lr}${cosine ? ' cosine' : ''}, BN weight ${bnWeight}; made in ${madeIn.toFixed(0)} s)`;
console.log(`${teacherDir} (${rec.arch}, ${(100 * rec.testAccuracy).toFixed(2)}%): ${studentArch} trained on ${what} alone, ${trainSteps} steps: test accuracy ${(100 * r.accuracy).toFixed(2)}%`);
console.log(`  per class: ${r.perClassAccuracy.map((v) => Math.round(100 * v)).join(' ')}`);

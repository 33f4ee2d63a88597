#!/usr/bin/env node
/**
 * Diagnostic (no student, no real data in the optimisation): does a teacher's evidence for class K look
 * like class K to other teachers trained on the same real data? For each teacher it optimises N images
 * directly (DeepInversion-style: Adam on the pixels of a sigmoid-parametrised 28x28 content, zero-padded
 * to the input size) to minimise CE(T(x), K) + W x the BN-statistics term (--bn W, default 10 as TA-DFKD) + the paper's TV and L2
 * priors, then prints how every teacher classifies them. If the other teachers call a teacher's class-K
 * images class K, its synthetic samples can teach that class; if not, they are evidence only that teacher
 * reads as K.
 * --jitter P applies DeepInversion's input jitter during the optimisation: each step the teacher sees a
 * random crop with P pixels of black padding (one offset per image) and a random horizontal flip, so
 * that evidence tied to exact pixel positions does not pay.
 *   node scripts/tadfkd-ablation/class-probe.js K TEACHER_DIR... [--n 64] [--steps 200] [--bn 10] [--seed 0] [--jitter 0]
 */
const path = require('path');
const { takeNumber } = require('./args');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadTeacher } = require(`${D}/train/teacher`);
const { getDatasetInfo } = require(`${D}/data/registry`);
const { Normalizer } = require(`${D}/distill/synthesizer`);
const { BNStatsHook } = require(`${D}/distill/bn-hook`);
const L = require(`${D}/distill/losses`);
const { Adam } = require(`${D}/optim`);
const { augmentBatch } = require(`${D}/distill/augment`);
const { manualSeed, noGrad, tidy, keep, randn, full, zeros, F } = require(`${D}/tensor`);

const args = process.argv.slice(2);
const opt = (name, dflt) => takeNumber(args, name, dflt);
const n = opt('--n', 64);
const steps = opt('--steps', 200);
const bnWeight = opt('--bn', 10);
const jitter = opt('--jitter', 0);
manualSeed(opt('--seed', 0));
const k = Number(args.shift());
const teachers = args.map((dir) => {
  const { model, record } = loadTeacher(dir);
  model.eval();
  model.requiresGrad_(false);
  return { name: path.basename(dir), model, record };
});
const rec = teachers[0].record;
const info = getDatasetInfo(rec.dataset);
const norm = new Normalizer(info.mean, info.std);
const content = info.contentSize ?? rec.imageSize;
const pad = (rec.imageSize - content) / 2;
const toInput = (u) => norm.apply(pad > 0 ? F.pad(u.sigmoid(), [pad, pad, pad, pad], 0) : u.sigmoid());
const black = keep(norm.apply(zeros([1, rec.inChannels, 1, 1])));
const view = (x) => (jitter > 0 ? augmentBatch(x, { crop: jitter, flip: true }, black) : x);
const histOf = (logits) => {
  const h = new Array(rec.numClasses).fill(0);
  for (const c of logits.argmax(1).toInt32Array()) h[c]++;
  return h;
};

for (const src of teachers) {
  const u = keep(randn([n, rec.inChannels, content, content]).mul(0.5).requiresGrad_(true));
  const opt = new Adam([u], { lr: 0.05 });
  const hook = new BNStatsHook(src.model);
  const target = keep(full([n], k, 'int64'));
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      const x = toInput(u);
      const { result: t, loss: bn } = hook.capture(() => src.model.call(view(x)));
      const loss = F.crossEntropy(t, target).add(bn.mul(bnWeight)).add(L.totalVariation(x).mul(1.5e-5)).add(L.l2Prior(x).mul(6e-3));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  const rows = tidy(() => noGrad(() => {
    const x = toInput(u);
    return teachers.map((j) => ({ judge: j.name, [`share of class ${k}`]: histOf(j.model.call(x))[k] / n, histogram: histOf(j.model.call(x)).join(' ') }));
  }));
  console.log(`images optimised for class ${k} on ${src.name} (${steps} steps, BN weight ${bnWeight}, jitter ${jitter}, ${n} images):`);
  console.table(rows);
  opt.dispose();
  u.dispose();
  target.dispose();
}

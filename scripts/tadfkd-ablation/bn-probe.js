#!/usr/bin/env node
/**
 * Diagnostic: per-layer BN-statistics terms of a teacher on images from a freshly initialised generator
 * (the samples of iteration 0), raw (paper) and 'std' (scale-free), plus the running-variance scale of
 * each layer. With STEPS > 0 it then trains the generator on the BN and image-prior terms alone (the
 * warm-up of tadfkd.warmupSteps; SCALE raw or std) and prints, every 10 steps, the BN loss and the
 * teacher's class histogram on fresh samples (does BN matching alone give class coverage?).
 * No student, no real data.  node scripts/tadfkd-ablation/bn-probe.js TEACHER_DIR [seed] [STEPS] [SCALE] [BALANCE]
 * (BALANCE: weight of the class-balance term, tadfkd.balance, added to the warm-up objective)
 */
const path = require('path');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadTeacher } = require(`${D}/train/teacher`);
const { getDatasetInfo } = require(`${D}/data/registry`);
const { Normalizer, GeneratorSynthesizer } = require(`${D}/distill/synthesizer`);
const { BatchNorm } = require(`${D}/nn`);
const { bnStatLoss, bnStatLossStd } = require(`${D}/distill/losses`);
const { manualSeed, noGrad, tidy } = require(`${D}/tensor`);
const { BNStatsHook } = require(`${D}/distill/bn-hook`);
const L = require(`${D}/distill/losses`);
const { resolveConfig } = require(`${D}/distill/config`);

const dir = process.argv[2];
manualSeed(Number(process.argv[3] ?? 0));
const { model: T, record } = loadTeacher(dir);
T.eval();
const info = getDatasetInfo(record.dataset);
const cfg = resolveConfig('ta-dfkd', record.dataset);
const norm = new Normalizer(info.mean, info.std);
const g = cfg.generator;
const synth = new GeneratorSynthesizer({ nz: g.nz, width: g.width, imageSize: record.imageSize, contentSize: info.contentSize, channels: record.inChannels, lr: g.lr, betas: [g.beta1, g.beta2] }, norm);
const bns = T.modules().filter((m) => m instanceof BatchNorm);
const rows = [];
const hs = bns.map((bn, i) => bn.registerForwardHook((_m, input) => {
  rows[i] = {
    layer: i,
    channels: bn.numFeatures,
    raw: bnStatLoss(input, bn.runningMean, bn.runningVar).item(),
    std: bnStatLossStd(input, bn.runningMean, bn.runningVar, bn.eps).item(),
    runningVarMean: bn.runningVar.mean().item(),
    batchVarMean: input.var(input.ndim === 4 ? [0, 2, 3] : [0], false).mean().item(),
  };
}));
tidy(() => noGrad(() => {
  const x = synth.sample(128);
  const p = T.call(x).softmax(1);
  const hist = new Array(p.shape[1]).fill(0);
  for (const c of p.argmax(1).toInt32Array()) hist[c]++;
  console.log(JSON.stringify({ teacher: record.arch, classHistogram: hist, meanMaxProb: p.max(1).mean().item() }));
}));
hs.forEach((h) => h.remove());
console.table(rows);
console.log('sum raw', rows.reduce((a, r) => a + r.raw, 0).toFixed(3), 'sum std', rows.reduce((a, r) => a + r.std, 0).toFixed(3));

const steps = Number(process.argv[4] ?? 0);
const scale = process.argv[5] ?? 'raw';
const balance = Number(process.argv[6] ?? 0);
const hook = new BNStatsHook(T, { scale });
T.requiresGrad_(false);
const w = cfg.weights;
const hist = () => tidy(() => noGrad(() => {
  const p = T.call(synth.sample(256)).softmax(1);
  const h = new Array(p.shape[1]).fill(0);
  for (const c of p.argmax(1).toInt32Array()) h[c]++;
  return { h, conf: p.max(1).mean().item() };
}));
const t0 = Date.now();
for (let i = 1; i <= steps; i++) {
  const bn = tidy(() => {
    synth.generator.train();
    const { x } = synth.generate(cfg.batchSize);
    const { result: t, loss: b } = hook.capture(() => T.call(x));
    let loss = b.mul(w.bn).add(L.totalVariation(x).mul(w.tv)).add(L.l2Prior(x).mul(w.l2));
    if (balance > 0) loss = loss.add(L.informationEntropy(t).mul(balance));
    synth.optimizer.zeroGrad();
    loss.backward();
    synth.optimizer.step();
    return b.item();
  });
  if (i % 10 === 0 || i === 1) {
    const { h, conf } = hist();
    const n = h.reduce((a, b) => a + b, 0);
    const ent = -h.filter((c) => c > 0).reduce((a, c) => a + (c / n) * Math.log(c / n), 0) / Math.log(h.length);
    console.log(JSON.stringify({ step: i, scale, balance, bn: +bn.toFixed(3), coverage: +ent.toFixed(3), conf: +conf.toFixed(3), hist: h, sec: (Date.now() - t0) / 1000 }));
  }
}

#!/usr/bin/env node
/**
 * Diagnostic, no real data: what a TA-DFKD run's generator makes, class by class, at its latest
 * checkpoint. For N generated samples it prints, per class the run's teacher assigns, how many samples
 * there are, how many the GMM selection keeps, how often the checkpoint's student agrees with the teacher
 * on them, and how often other teachers ("judges", trained on the same real data) assign the same class.
 * Low judge agreement on a class means the generator's samples of it carry evidence only this teacher
 * reads as that class, so a student cannot learn the real class from them.
 *   node scripts/tadfkd-ablation/synthetic-classes.js RUN_DIR [JUDGE_TEACHER_DIR...] [--n 4096] [--seed 0]
 * The seed is set before the models are built and building a model draws from the engine RNG, so the
 * generated samples depend on the judge list: compare tables made with the same judges.
 */
const path = require('path');
const fs = require('fs');
const { takeNumber } = require('./args');
const { runGenerator } = require('./checkpoint');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadTeacher } = require(`${D}/train/teacher`);
const { getDatasetInfo } = require(`${D}/data/registry`);
const { selectBatch } = require(`${D}/distill/selection`);
const { buildModel } = require(`${D}/models`);
const { manualSeed, noGrad, tidy } = require(`${D}/tensor`);

const args = process.argv.slice(2);
const opt = (name, dflt) => takeNumber(args, name, dflt);
const n = opt('--n', 4096);
manualSeed(opt('--seed', 0));
const [runDir, ...judgeDirs] = args;
const run = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
const cfg = run.config;
const { model: T, record: rec } = loadTeacher(run.teacher.dir);
T.eval();
const judges = judgeDirs.map((d) => {
  const j = loadTeacher(d).model;
  j.eval();
  return { name: path.basename(d), model: j };
});
const info = getDatasetInfo(rec.dataset);
const { synth, pick, iteration } = runGenerator(runDir, rec, info);
const S = buildModel(run.student, { inChannels: rec.inChannels, numClasses: rec.numClasses, imageSize: rec.imageSize });
S.eval();
S.loadStateDict(pick('student.'));
synth.generator.eval();

const K = rec.numClasses;
const rows = Array.from({ length: K }, (_, k) => ({ class: k, samples: 0, kept: 0, student_agrees: 0, ...Object.fromEntries(judges.map((j) => [j.name, 0])) }));
tidy(() =>
  noGrad(() => {
    for (let done = 0; done < n; done += 512) {
      tidy(() => {
        const x = synth.sample(Math.min(512, n - done));
        const t = T.call(x);
        const tc = t.argmax(1).toInt32Array();
        const mask = selectBatch(t, cfg.selection).mask;
        const sc = S.call(x).argmax(1).toInt32Array();
        const jc = judges.map((j) => j.model.call(x).argmax(1).toInt32Array());
        tc.forEach((c, i) => {
          const r = rows[c];
          r.samples++;
          r.kept += mask[i];
          r.student_agrees += sc[i] === c ? 1 : 0;
          judges.forEach((j, m) => (r[j.name] += jc[m][i] === c ? 1 : 0));
        });
      });
    }
  }),
);
const pct = (a, b) => (b ? Math.round((100 * a) / b) : NaN);
console.log(`${runDir} at iteration ${iteration}: ${n} generated samples by the class the teacher (${run.teacher.arch}) assigns; % of that class's samples`);
console.table(
  rows.map((r) => ({
    class: r.class,
    share: pct(r.samples, n),
    kept: pct(r.kept, r.samples),
    student_agrees: pct(r.student_agrees, r.samples),
    ...Object.fromEntries(judges.map((j) => [`${j.name}_agrees`, pct(r[j.name], r.samples)])),
  })),
);

#!/usr/bin/env node
/**
 * Calibration of tadfkd.anchors.refresh (DeepInversion's ADI competition) on a finished run, teacher only
 * (no real data is used): takes the first ROWS of the teacher's cached anchors, measures how often the run's
 * student agrees with the teacher on them, refreshes them with AnchorSet.refresh for STEPS steps at each
 * competition weight, and prints the agreement, the teacher's hit of the target class and the time after.
 *   node scripts/tadfkd-ablation/adi-calibrate.js RUN_CELL_DIR ANCHORS.safetensors [ROWS] [STEPS] [WEIGHTS]
 */
const path = require('path');
const D = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { loadStudent } = require(`${D}/distill/run`);
const { loadTeacher } = require(`${D}/train/teacher`);
const { loadTensors } = require(`${D}/io/weights`);
const { AnchorSet } = require(`${D}/distill/anchors`);
const { noGrad, tidy, manualSeed } = require(`${D}/tensor`);
const fs = require('fs');

const [dir, file, rowsArg, stepsArg, weightsArg] = process.argv.slice(2);
const rows = Number(rowsArg ?? 128);
const steps = Number(stepsArg ?? 50);
const weights = (weightsArg ?? '0,1,10').split(',').map(Number);
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const { model: T, record: tr } = loadTeacher(cfg.teacher.dir);
T.eval();
const { model: S } = loadStudent(dir);
S.eval();
const x0 = loadTensors(file).tensors.get('images') ?? [...loadTensors(file).tensors.values()][0];
const K = tr.numClasses;
function stats(x) {
  return tidy(() => noGrad(() => {
    const t = T.call(x).argmax(1).toInt32Array();
    const s = S.call(x).argmax(1).toInt32Array();
    let agree = 0, hit = 0, studentHit = 0;
    for (let i = 0; i < t.length; i++) { agree += t[i] === s[i]; hit += t[i] === i % K; studentHit += s[i] === i % K; }
    return { agree: agree / t.length, teacherHit: hit / t.length, studentHit: studentHit / t.length };
  }));
}
const fmt = (o) => Object.entries(o).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(3) : v}`).join(', ');
const first = x0.narrow(0, 0, rows);
console.log(`as cached (${rows} anchors): ${fmt(stats(first))}`);
for (const w of weights) {
  manualSeed(0);
  const t = noGrad(() => T.call(first));
  const set = AnchorSet.restore(new Map([['a.x', first], ['a.t', t]]), {}, 'a.', rows);
  const log = set.refresh(T, S, K, { every: 1, rows, steps, weight: w });
  console.log(`weight ${w}, ${steps} steps: ${fmt(stats(set.state('a.').tensors.get('a.x')))}; ${fmt(log)}`);
  set.dispose();
}

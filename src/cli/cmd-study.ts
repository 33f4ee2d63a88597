/** `dfkd study`: the teacher-robustness study (every method on every teacher with every seed). */
import * as path from 'path';
import { Command, InvalidArgumentError } from 'commander';
import { DfkdError } from '../errors';
import { STUDY_PRESETS, METHOD_VARIANTS, StudyPreset } from '../study/presets';
import type { StudyEvent } from '../study/run';
import { stopSignalDebouncer } from '../distill/stop-signals';
import { createProgress, fmt, Progress } from './progress';
import { parseIntArg, parseNumArg, runCommand, pct, DEVICE_HELP } from './common';

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
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length < 2 || parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`--seeds must be a count N (seeds 0..N-1) or a list like 0,3,7, got '${v}'`);
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
    ...p.teachers.map((t) => `    ${t.id.padEnd(14)} ${t.recipe.arch}, seed ${t.recipe.seed}, ${t.recipe.epochs} epochs${t.recipe.labelSmoothing ? `, label smoothing ${t.recipe.labelSmoothing}` : ''}`),
    `  methods: ${p.methods.map((m) => m.id).join(', ')}`,
  ];
  return lines.join('\n');
}

/** The `--status` table: one line per cell and a count per status. */
export function formatStatus(out: string, source: string, cells: { cell: { teacherId: string; methodId: string; seed: number }; status: string; detail?: string }[]): string {
  const counts = new Map<string, number>();
  for (const c of cells) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const order = ['done', 'running', 'queued', 'pending', 'stopped', 'failed'];
  const names = cells.map((c) => `${c.cell.teacherId}/${c.cell.methodId}/seed-${c.cell.seed}`);
  const w = Math.max(...names.map((n) => n.length), 4);
  return [
    `study ${out}: ${cells.length} cell${cells.length === 1 ? '' : 's'}: ${order.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ')} (from ${source})`,
    ...cells.map((c, i) => `  ${names[i].padEnd(w)}  ${c.status.padEnd(7)}${c.detail ? `  ${c.detail}` : ''}`),
  ].join('\n');
}

export function registerStudyCommand(program: Command): void {
  program
    .command('study')
    .description('teacher-robustness study: run each method on several teachers with several seeds and report mean/std/min/max, catastrophic failures and charts')
    .option('--preset <name>', `study preset: ${STUDY_PRESETS.map((p) => p.name).join(', ')} (omit to continue the study in --out)`)
    .option('--out <dir>', 'study directory (teachers/, cells/, state.json, results.json, RESULTS.md, report.html)')
    .option('--methods <ids>', `comma-separated method variants (${METHOD_VARIANTS.map((m) => m.id).join(', ')})`, parseList('--methods'))
    .option('--seeds <n>', 'number of seeds (0..N-1) or a comma-separated list', parseSeeds)
    .option('--teachers <ids>', "comma-separated teacher ids of the preset (see --list-presets)", parseList('--teachers'))
    .option('--iterations <n>', 'distillation iterations per cell (replaces the preset budget)', parseIntArg('--iterations'))
    .option('--threshold <x>', 'catastrophic failure: final accuracy below x times the teacher accuracy (default 0.5)', parseNumArg('--threshold'))
    .option('--data-path <dir>', 'dataset location (required for CIFAR-10)')
    .option('--no-probe', 'skip the probe trust score of each cell (computed at the end; one probe inversion per teacher)')
    .option('--probe-size <n>', 'probe images per teacher (default 512)', parseIntArg('--probe-size'))
    .option('--probe-steps <n>', 'inversion steps per probe batch (default 200)', parseIntArg('--probe-steps'))
    .option('--device <name>', DEVICE_HELP, 'cpu')
    .option('--on-nan <policy>', 'on a non-finite loss or weight in a cell: stop it (default; recorded as diverged) or rollback (restore its last checkpoint, lower the learning rates)', (v: string) => {
      if (v !== 'stop' && v !== 'rollback') throw new InvalidArgumentError(`--on-nan must be 'stop' or 'rollback', got '${v}'`);
      return v;
    })
    .option('--report-only', 'regenerate RESULTS.md and report.html from DIR/results.json (and compute the probe trust of its finished cells unless --no-probe)')
    .option('--queue <url>', 'run the cells on `dfkd worker` processes through this Redis queue (redis://HOST:PORT; see docs/distributed.md)')
    .option('--status', 'show which cells are queued, running, done or failed (from the queue with --queue, else from DIR) and exit')
    .option('--list-presets', 'list the study presets with their teachers, methods and budgets')
    .action((o) =>
      runCommand(async () => {
        if (o.listPresets) {
          console.log(STUDY_PRESETS.map(describePreset).join('\n\n'));
          console.log(`\nmethod variants:\n${METHOD_VARIANTS.map((m) => `  ${m.id.padEnd(22)} ${m.description}`).join('\n')}`);
          return;
        }
        if (!o.out) throw new DfkdError('--out <dir> is required', 'EUSAGE');
        if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1)) throw new DfkdError(`--threshold must be in (0, 1], got ${o.threshold}`, 'EUSAGE');
        const out: string = o.out;
        if (o.reportOnly) {
          const { loadResults, recomputeResults } = await import('../study/results');
          const { writeReport } = await import('../study/report');
          let r = loadResults(path.join(out, 'results.json'));
          if (o.probe !== false && r.cells.length > 0) {
            // Probe trust of the finished cells (e.g. of a stopped study); cached, so cheap when already done.
            const { studyProbeTrust } = await import('../study/run');
            const { readCell } = await import('../study/results');
            const teacherDirs = new Map(r.teachers.filter((t) => t.dir).map((t) => [t.id, path.join(out, t.dir!)] as [string, string]));
            studyProbeTrust(out, teacherDirs, r.cells, { n: o.probeSize, steps: o.probeSteps }, (id, m) => process.stderr.write(`probe trust, teacher ${id}: ${m}\n`));
            r = { ...r, cells: r.cells.map((c) => ({ ...c, ...readCell(out, c) })) };
            r = recomputeResults(r, o.threshold ?? r.threshold);
            const { writeJsonAtomic } = await import('../io/atomic');
            writeJsonAtomic(path.join(out, 'results.json'), r);
          } else if (o.threshold !== undefined && o.threshold !== r.threshold) r = recomputeResults(r, o.threshold);
          const files = await writeReport(r, out);
          console.log(`wrote ${files.markdown} and ${files.html} (${r.progress.done} of ${r.progress.total} cells)`);
          return;
        }
        const queueUrl = o.queue === undefined ? undefined : (await import('../study/queue')).parseQueueUrl(o.queue);
        if (o.status) {
          const { studyStatus } = await import('../study/queue-submit');
          const st = await studyStatus(out, queueUrl);
          console.log(formatStatus(out, st.source, st.cells));
          return;
        }
        const { runStudy } = await import('../study/run');
        const { runStudyOnQueue } = await import('../study/queue-submit');

        let stopRequested = false;
        let inCells = false;
        const onSignal = stopSignalDebouncer({
          onForce: () => process.exit(130),
          onStop: (sig) => {
            stopRequested = true;
            process.stderr.write(`\n${sig}: finishing the current iteration, writing a checkpoint and stopping the study...\n`);
          },
        });
        const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
        let bar: Progress | undefined;
        const stopBar = (): void => {
          bar?.stop();
          bar = undefined;
        };
        const onProgress = (e: StudyEvent): void => {
          switch (e.type) {
            case 'teacher-start':
              process.stderr.write(
                `teacher ${e.index + 1}/${e.total} ${e.teacherId}: ${e.reused ? `reusing ${e.dir}` : `training into ${e.dir} (Ctrl-C stops at once here; an unfinished teacher restarts on the next run)`}\n`,
              );
              break;
            case 'teacher-progress':
              bar ??= createProgress(`teacher ${e.teacherId}`, e.epochs * e.stepsPerEpoch, ['epoch', 'loss']);
              bar.update((e.epoch - 1) * e.stepsPerEpoch + e.step, { epoch: `${e.epoch}/${e.epochs}`, loss: fmt(e.loss) });
              break;
            case 'teacher-done':
              stopBar();
              process.stderr.write(`teacher ${e.teacherId}: test accuracy ${pct(e.record.testAccuracy)}, ECE ${fmt(e.record.ece, 4)}, mean confidence ${fmt(e.record.meanConfidence, 4)}\n`);
              break;
            case 'plan':
              // Teacher training is synchronous and cannot poll a flag: until now Ctrl-C kills at once
              // (an unfinished teacher is retrained on the next run). From here on, signals stop cleanly.
              inCells = true;
              process.on('SIGINT', handlers.SIGINT);
              process.on('SIGTERM', handlers.SIGTERM);
              process.stderr.write(`${e.total} cells, ${e.done} already finished${e.done > 0 ? ' (kept as they are)' : ''}\n`);
              if (queueUrl) process.stderr.write(`queueing ${e.total - e.done} cell(s) on ${queueUrl.display}; start workers with: dfkd worker --queue ${queueUrl.display}\n`);
              break;
            case 'cell-start':
              stopBar();
              if (queueUrl) break;
              bar = createProgress(`cell ${e.done + 1}/${e.total} ${e.cell.teacherId}/${e.cell.methodId}/seed-${e.cell.seed}${e.resumed ? ' (resumed)' : ''}`, e.iterations, ['acc', 'sel']);
              break;
            case 'cell-progress':
              bar?.update(e.iteration, { sel: Number.isFinite(e.selectionRate) ? fmt(e.selectionRate, 2) : '-' });
              break;
            case 'cell-eval':
              bar?.update(e.iteration, { acc: pct(e.accuracy) });
              break;
            case 'cell-done':
              stopBar();
              process.stderr.write(
                `[${e.done}/${e.total}] ${e.cell.teacherId}/${e.cell.methodId}/seed-${e.cell.seed}: final ${pct(e.result.finalAccuracy)} ` +
                  `(teacher ${pct(e.result.teacherAccuracy)}), ${e.result.wallTimeSec.toFixed(0)} s${where.has(cellName(e.cell)) ? ` ${where.get(cellName(e.cell))}` : ''}\n`,
              );
              break;
            case 'cell-failed':
              stopBar();
              process.stderr.write(`[${e.done}/${e.total}] ${e.cell.teacherId}/${e.cell.methodId}/seed-${e.cell.seed}: FAILED: ${e.error}\n`);
              break;
            case 'probe':
              stopBar();
              process.stderr.write(`probe trust, teacher ${e.teacherId}: ${e.message}\n`);
              break;
          }
        };
        const where = new Map<string, string>();
        const cellName = (c: { teacherId: string; methodId: string; seed: number }): string => `${c.teacherId}/${c.methodId}/seed-${c.seed}`;
        try {
          const run = queueUrl
            ? (a: Parameters<typeof runStudy>[0]) =>
                runStudyOnQueue({ ...a, queue: queueUrl, onRemoteDone: (r) => where.set(cellName(r.cell), `on ${r.host}${r.resumed ? ', continued from a checkpoint' : ''}`) })
            : runStudy;
          const res = await run({
            preset: o.preset,
            out,
            dataPath: o.dataPath,
            device: o.device,
            methods: o.methods,
            seeds: o.seeds,
            teachers: o.teachers,
            iterations: o.iterations,
            threshold: o.threshold,
            probe: o.probe === false ? false : { n: o.probeSize, steps: o.probeSteps },
            onNan: o.onNan,
            onProgress,
            shouldStop: () => stopRequested,
          });
          stopBar();
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
            for (const f of res.results.failedCells) console.log(`  failed: ${cellName(f)}: ${f.error}`);
            console.log(`  submit again to retry them: ${resume}`);
            process.exitCode = 1;
          }
          console.log(`  ${path.join(out, 'RESULTS.md')}\n  ${path.join(out, 'report.html')}\n  ${path.join(out, 'results.json')}`);
        } finally {
          stopBar();
          if (inCells) {
            process.off('SIGINT', handlers.SIGINT);
            process.off('SIGTERM', handlers.SIGTERM);
          }
        }
      }),
    );
}

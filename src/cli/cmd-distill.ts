/** `dfkd distill`: distill a teacher into a student without real training data. */
import { Command } from 'commander';
import { z } from 'zod';
import { runDistill, resumeOptions, DistillOptions, DistillSummary } from '../distill/run';
import { methodNames, MAX_ITERATIONS, PartialConfig } from '../distill/config';
import { onStopSignals } from '../distill/stop-signals';
import { checkResumeFlags } from './resume-flags';
import { checkFlagConfig } from './flag-config';
import { DfkdError } from '../errors';
import { PRECISIONS } from '../distill/precision';
import { readTeacherRecord } from '../train/teacher';
import { familyStudentFor, FALLBACK_STUDENT } from '../models/family';
import { createProgress, fmt, Progress } from './progress';
import { parseIntArg, parseNumArg, readJsonFile, runCommand, pct, DEVICE_HELP, parseOnNan, typedOptions } from './common';

/** The options of `dfkd distill`, as commander parses them. */
const DistillFlags = z.object({
  teacher: z.string().optional(),
  student: z.string().optional(),
  method: z.string(),
  config: z.string().optional(),
  out: z.string().optional(),
  resume: z.string().optional(),
  seed: z.number().int().optional(),
  iterations: z.number().int().optional(),
  batchSize: z.number().int().optional(),
  classPrior: z.union([z.literal(true), z.number()]).optional(),
  selection: z.boolean(),
  selectionThreshold: z.number().optional(),
  selectionCriterion: z.string().optional(),
  stopWhenStable: z.boolean().optional(),
  dataPath: z.string().optional(),
  device: z.string(),
  onNan: z.enum(['stop', 'rollback']).optional(),
  precision: z.enum(PRECISIONS).optional(),
});
type DistillFlags = z.infer<typeof DistillFlags>;

export function registerDistillCommand(program: Command): void {
  program
    .command('distill')
    .description('distill a teacher into a student with no access to real training data (TA-DFKD by default)')
    .option('--teacher <dir>', 'teacher directory (teacher.json + weights)')
    .option('--student <arch>', `student architecture (default: the small student of the teacher's family: resnet8-half for ResNet, vgg5-small for VGG, lenet5-half for LeNet; ${FALLBACK_STUDENT} for the others)`)
    .option('--method <name>', `method: ${methodNames().join(', ')}`, 'ta-dfkd')
    .option('--config <file>', 'JSON config (any subset of the fields in docs/methods.md); flags override it')
    .option('--out <dir>', 'run directory')
    .option('--resume <dir>', 'continue the unfinished run in this directory with its recorded teacher/student/method/config (only --on-nan, --device and --data-path may be given with it)')
    .option('--seed <n>', 'random seed', parseIntArg('--seed'))
    .option('--iterations <n>', `outer iterations (at most ${MAX_ITERATIONS.toLocaleString('en-US')})`, parseIntArg('--iterations'))
    .option('--batch-size <n>', 'batch size', parseIntArg('--batch-size'))
    .option('--class-prior [weight]', 'TA-DFKD ablation: add the class-prior (one-hot CE) loss to the generator (default weight 1)', parseNumArg('--class-prior'))
    .option('--no-selection', 'TA-DFKD ablation: train on every generated sample (no GMM selection)')
    .option('--selection-threshold <p>', 'posterior threshold of the clean component (default 0.5)', parseNumArg('--selection-threshold'))
    .option('--selection-criterion <name>', 'loss (paper), entropy, margin or energy')
    .option('--stop-when-stable', 'data-free stopping rule: end the run when teacher-student agreement on fresh synthetic samples plateaus (tune with stopWhenStable in --config)')
    .option('--data-path <dir>', 'location of the real test set (used only to report accuracy)')
    .option('--precision <p>', "float32 (default) or bf16-forwards: the generator's draws and the teacher's logits for the student under bfloat16 autocast (faster on CPUs with AVX-512 BF16; changes results; docs/methods.md)")
    .option('--device <name>', `${DEVICE_HELP}; a run may be resumed on another device`, 'cpu')
    .option('--on-nan <policy>', 'on a non-finite loss or weight: stop (default) or rollback (restore the last checkpoint, lower the learning rates; config nan.*)', parseOnNan)
    .action((raw, cmd: Command) =>
      runCommand(() => {
        const o = typedOptions(DistillFlags, raw, 'distill');
        if (o.resume) checkResumeFlags(cmd, o.resume);
        return distillCommand(o);
      }),
    );
}

/** The flags that override config fields. */
function flagOverrides(o: DistillFlags): PartialConfig {
  return {
    seed: o.seed,
    iterations: o.iterations,
    batchSize: o.batchSize,
    weights: o.classPrior !== undefined ? { classPrior: o.classPrior === true ? 1 : o.classPrior } : undefined,
    stopWhenStable: o.stopWhenStable ? {} : undefined,
    selection: {
      enabled: o.selection === false ? false : undefined,
      threshold: o.selectionThreshold,
      criterion: o.selectionCriterion,
    },
    nan: o.onNan ? { policy: o.onNan } : undefined,
    precision: o.precision,
  } as PartialConfig;
}

/** What to run: a new run from the flags, or the run recorded in --resume DIR. */
function runOptions(o: DistillFlags): Omit<DistillOptions, 'shouldStop'> {
  if (o.resume) return resumeOptions(o.resume, { onNan: o.onNan, dataPath: o.dataPath, device: o.device });
  if (!o.teacher) throw new DfkdError('--teacher <dir> is required (or --resume <run dir>)', 'EUSAGE');
  if (!o.out) throw new DfkdError('--out <dir> is required (or --resume <run dir>)', 'EUSAGE');
  const userConfig = o.config ? readJsonFile(o.config, 'distill config') : {};
  const overrides = flagOverrides(o);
  checkFlagConfig(o.method, overrides);
  return { teacherDir: o.teacher, studentArch: o.student, method: o.method, userConfig, overrides, out: o.out, dataPath: o.dataPath, device: o.device };
}

/** A one-line note when the student is not of the teacher's family and the zoo has one that is. */
function studentFamilyNote(teacherDir: string, studentArch: string): string | undefined {
  let teacherArch: string;
  try {
    teacherArch = readTeacherRecord(teacherDir).arch;
  } catch {
    return undefined; // runDistill reports an unreadable teacher with the full message
  }
  const better = familyStudentFor(teacherArch, studentArch);
  if (!better) return undefined;
  return (
    `note: the student ${studentArch} is not of the teacher's family (${teacherArch}); a student of its family learns far more from ` +
    `its synthetic samples (Fashion-MNIST, ResNet-8 study cell, two seeds: 74.85% with lenet5-half, 87.04% with resnet8-half; docs/study.md). Try --student ${better}`
  );
}

async function distillCommand(o: DistillFlags): Promise<void> {
  const run = runOptions(o);
  const note = o.resume || !run.studentArch ? undefined : studentFamilyNote(run.teacherDir, run.studentArch);
  if (note) process.stderr.write(`${note}\n`);
  let stopRequested = false;
  onStopSignals({
    onForce: () => process.exit(130),
    onStop: (sig) => {
      stopRequested = true;
      process.stderr.write(`\n${sig}: finishing the current iteration and writing a checkpoint...\n`);
    },
  });
  let bar: Progress | undefined;
  const res = await runDistill({
    ...run,
    shouldStop: () => stopRequested,
    onProgress: (p) => {
      bar ??= createProgress(`distill ${run.method}`, p.iterations, ['loss', 'sel', 'acc']);
      bar.update(p.iteration, { loss: fmt(p.log.loss_s ?? NaN), sel: Number.isFinite(p.selectionRate) ? fmt(p.selectionRate, 2) : '-' });
    },
    onEval: (e) => bar?.update(e.iteration, { acc: pct(e.testAccuracy) }),
    // Warnings (e.g. the collapse detector) start on a fresh line below the progress bar.
    onWarn: (m) => process.stderr.write(`${bar ? '\n' : ''}warning: ${m}\n`),
  });
  bar?.stop();
  if (res.stopped) {
    console.log(`stopped at iteration ${res.iteration}; checkpoint written. Continue with: dfkd distill --resume ${run.out}`);
    process.exitCode = 130;
    return;
  }
  printSummary(res.summary!, run.out);
}

export function printSummary(s: DistillSummary, out: string): void {
  console.log(
    `${s.method}: ${s.teacher.arch} -> ${s.student.arch} on ${s.dataset}: final student accuracy ${pct(s.finalAccuracy)} ` +
      `(teacher ${pct(s.teacher.testAccuracy)}, ${pct(s.relativeAccuracy)} of it), mean of last ${s.lastK} evaluations ${pct(s.lastKMean)}; ` +
      `compression ${s.compression.toFixed(1)}x (${s.teacher.parameters.toLocaleString('en-US')} -> ${s.student.parameters.toLocaleString('en-US')} parameters); ` +
      `${s.wallTimeSec.toFixed(0)} s, seed ${s.seed}`,
  );
  if (s.stoppedEarly) console.log(`  stopped early at iteration ${s.stoppedEarly.iteration} of ${s.iterations} (--stop-when-stable): ${s.stoppedEarly.reason}`);
  if (s.collapseWarnings?.length) console.log(`  collapse detector fired at ${s.collapseWarnings.length} evaluation(s), first at iteration ${s.collapseWarnings[0].iteration}: ${s.collapseWarnings[0].reasons.join('; ')}`);
  console.log(`  best over training (selected with the test set, not data-free): ${pct(s.bestOverTraining.accuracy)} at iteration ${s.bestOverTraining.iteration}`);
  if (s.signals) console.log(`  data-free trust score ${fmt(s.signals.trust)} (agreement ${fmt(s.signals.agreement)}, coverage ${fmt(s.signals.coverage)}, diversity ${fmt(s.signals.diversity)})`);
  console.log(`  run directory: ${out} (summary.json, log.jsonl, student.safetensors, samples/)`);
}

/** `dfkd trust`: the probe trust score of a finished distillation run, computed without real data. */
import { Command } from 'commander';
import { z } from 'zod';
import { DfkdError } from '../errors';
import { parseIntArg, runCommand, pct, typedOptions } from './common';

export function registerTrustCommand(program: Command): void {
  program
    .command('trust')
    .description(
      "data-free trust score of a finished run: the student's agreement with the teacher on a probe set inverted from the teacher alone " +
        '(no real data; the probe is cached in the teacher directory and shared by every run of that teacher, or in the run directory when the teacher directory cannot be written)',
    )
    .requiredOption('--model <run dir>', 'a finished `dfkd distill` run directory (student.json)')
    .option('--teacher <dir>', 'teacher directory (default: the one recorded in the run)')
    .option('--probe-size <n>', 'probe images (default 1024)', parseIntArg('--probe-size'))
    .option('--probe-steps <n>', 'inversion steps per probe batch (default 200)', parseIntArg('--probe-steps'))
    .option('--probe-jitter <px>', "pixels of random roll (with flips) at each inversion step; 0 = the plain probe of records before 2026-12-02 (default 2)", parseIntArg('--probe-jitter'))
    .action((raw) => runCommand(() => trustCommand(typedOptions(TrustOptions, raw, 'trust'))));
}

const TrustOptions = z.object({ model: z.string(), teacher: z.string().optional(), probeSize: z.number().int().optional(), probeSteps: z.number().int().optional(), probeJitter: z.number().int().optional() });

async function trustCommand(o: z.infer<typeof TrustOptions>): Promise<void> {
  for (const [flag, v] of [['--probe-size', o.probeSize], ['--probe-steps', o.probeSteps]] as const) {
    if (v !== undefined && v < 1) throw new DfkdError(`${flag} must be at least 1, got ${v}`, 'EUSAGE');
  }
  if (o.probeJitter !== undefined && o.probeJitter < 0) throw new DfkdError(`--probe-jitter must be at least 0, got ${o.probeJitter}`, 'EUSAGE');
  const { probeTrustOfRun } = await import('../distill/probe-trust');
  const { record: r, file, probeFile } = probeTrustOfRun(o.model, { teacher: o.teacher, n: o.probeSize, steps: o.probeSteps, jitter: o.probeJitter }, (m) => process.stderr.write(`${m}\n`));
  console.log(
    `probe trust ${r.probeAgreement.toFixed(3)}: the student agrees with the teacher on ${pct(r.probeAgreement)} of ${r.n} probe images ` +
      `(logit distance ${r.probeLogitDistance.toFixed(3)}; the teacher assigns ${pct(r.probeTargetHit)} of the probe to its target class)`,
  );
  console.log(`  written to ${file}; probe cached in ${probeFile}`);
}

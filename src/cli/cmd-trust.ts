/** `dfkd trust`: the probe trust score of a finished distillation run, computed without real data. */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { DfkdError } from '../errors';
import { readJson } from '../io/json';
import { requireRunRecord } from '../io/records';
import { parseIntArg, runCommand, pct } from './common';

export function registerTrustCommand(program: Command): void {
  program
    .command('trust')
    .description(
      "data-free trust score of a finished run: the student's agreement with the teacher on a probe set inverted from the teacher alone " +
        '(no real data; the probe is cached in the teacher directory and shared by every run of that teacher, or in the run directory when the teacher directory cannot be written)',
    )
    .requiredOption('--model <run dir>', 'a finished `dfkd distill` run directory (student.json)')
    .option('--teacher <dir>', 'teacher directory (default: the one recorded in the run)')
    .option('--probe-size <n>', 'probe images (default 512)', parseIntArg('--probe-size'))
    .option('--probe-steps <n>', 'inversion steps per probe batch (default 200)', parseIntArg('--probe-steps'))
    .action((o) =>
      runCommand(async () => {
        const runDir: string = o.model;
        if (!fs.existsSync(path.join(runDir, 'student.json'))) throw new DfkdError(`'${runDir}' is not a finished distillation run (no student.json)`, 'ENOENT');
        let teacherDir: string | undefined = o.teacher;
        if (!teacherDir) {
          const cf = path.join(runDir, 'config.json');
          if (!fs.existsSync(cf)) throw new DfkdError(`'${runDir}' has no config.json naming its teacher; pass --teacher`, 'ENOENT');
          const rec = readJson(cf, 'run record', 'ERECORD');
          requireRunRecord(rec, cf);
          teacherDir = (rec as { teacher: { dir: string } }).teacher.dir;
        }
        for (const [flag, v] of [['--probe-size', o.probeSize], ['--probe-steps', o.probeSteps]] as const) {
          if (v !== undefined && v < 1) throw new DfkdError(`${flag} must be at least 1, got ${v}`, 'EUSAGE');
        }
        const { teacherProbe, runProbeTrust, withTeacher } = await import('../distill/probe-trust');
        withTeacher(teacherDir, (teacher) => {
          const probe = teacherProbe(teacher, { n: o.probeSize, steps: o.probeSteps }, (m) => process.stderr.write(`${m}\n`), runDir);
          try {
            const r = runProbeTrust(runDir, teacher, probe);
            console.log(
              `probe trust ${r.probeAgreement.toFixed(3)}: the student agrees with the teacher on ${pct(r.probeAgreement)} of ${r.n} probe images ` +
                `(logit distance ${r.probeLogitDistance.toFixed(3)}; the teacher assigns ${pct(r.probeTargetHit)} of the probe to its target class)`,
            );
            console.log(`  written to ${path.join(runDir, 'probe-trust.json')}; probe cached in ${probe.file}`);
          } finally {
            probe.probe.dispose();
          }
        });
      }),
    );
}

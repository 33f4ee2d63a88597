/**
 * Memory soak check (a command, not a test): `node dist/bench/soak.js --steps 5000 --every 500`.
 *
 * Runs a TA-DFKD distillation of the dataset's default preset (Fashion-MNIST unless --dataset) for
 * `--steps` student steps (iterations = steps / studentSteps, rounded up) and samples the process's
 * resident memory (RSS), the V8 heap and the addon's live native tensors every `--every` student
 * steps. Prints one JSON object: the samples, the growth of each figure from the first sample to
 * the last, the same from the middle sample on (`growthSecondHalf`: past the fill-up, where a leak still
 * grows), and `pass` (RSS growth after the first sample below --max-growth, default 5%).
 *
 * Options:
 *   --teacher DIR     teacher directory to distill (default: train or reuse the recipe
 *                     configs/teachers/<dataset>-lenet5.json in <out>/teacher)
 *   --dataset NAME    dataset of the recipe teacher (default fashion-mnist)
 *   --config FILE     extra distill config (JSON) merged over the preset (e.g. for a quick check)
 *   --out DIR         working directory (default: a fresh temporary directory, removed afterwards
 *                     unless --keep)
 *   --seed N          distillation seed (default 0)
 * See docs/reliability.md ("Soak").
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { trainTeacher, readTeacherRecord } from '../src/train/teacher';
import { runDistill, distillConfigFor } from '../src/distill/run';
import { memoryStats } from '../src/tensor';
import { versions } from '../src/versions';
import { nowSeconds } from '../src/util';
import { readJson } from '../src/io/json';

interface Sample {
  studentSteps: number;
  iteration: number;
  seconds: number;
  rssMiB: number;
  heapUsedMiB: number;
  liveTensors: number;
  liveTensorMiB: number;
  /** Freed tensor buffers the caching CPU allocator keeps for reuse (null when it is off). */
  cacheIdleMiB: number | null;
}

const MiB = 1024 * 1024;

function growth(first: number, last: number): number {
  return first > 0 ? (last - first) / first : 0;
}

async function main(): Promise<void> {
  // util.parseArgs (strict): an unknown flag is an error instead of being ignored.
  const { values: v } = parseArgs({
    options: {
      steps: { type: 'string', default: '5000' },
      every: { type: 'string', default: '500' },
      'max-growth': { type: 'string', default: '0.05' },
      seed: { type: 'string', default: '0' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string' },
      dataset: { type: 'string', default: 'fashion-mnist' },
      teacher: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    process.stdout.write('usage: node dist/bench/soak.js [--steps 5000] [--every 500] [--teacher DIR] [--dataset NAME] [--config FILE] [--out DIR --keep] [--seed N] [--max-growth 0.05]\n');
    return;
  }
  const steps = Number(v.steps);
  const every = Number(v.every);
  const maxGrowth = Number(v['max-growth']);
  const seed = Number(v.seed);
  if (!(Number.isInteger(steps) && steps > 0 && Number.isInteger(every) && every > 0 && every <= steps)) {
    throw new Error(`--steps and --every must be positive integers with every <= steps (got ${steps}, ${every})`);
  }
  const out = v.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dfkd-soak-'));
  const dataset = v.dataset;
  let teacherDir = v.teacher;
  if (!teacherDir) {
    const recipe = readJson(path.join('configs', 'teachers', `${dataset}-lenet5.json`), 'teacher recipe', 'ECONFIG');
    teacherDir = path.join(out, 'teacher');
    trainTeacher(recipe, { out: teacherDir });
  }
  const tRec = readTeacherRecord(teacherDir);
  const userConfig = v.config ? readJson(v.config, 'distill config file', 'ECONFIG') : {};
  const base = distillConfigFor({ method: 'ta-dfkd', userConfig }, tRec.dataset);
  const iterations = Math.ceil(steps / base.studentSteps);
  const runDir = path.join(out, `soak-${Date.now()}`);

  const samples: Sample[] = [];
  const t0 = nowSeconds();
  let nextSample = every;
  const sample = (iteration: number): void => {
    const m = process.memoryUsage();
    const n = memoryStats();
    samples.push({
      studentSteps: iteration * base.studentSteps,
      iteration,
      seconds: Math.round((nowSeconds() - t0) * 10) / 10,
      rssMiB: Math.round((m.rss / MiB) * 10) / 10,
      heapUsedMiB: Math.round((m.heapUsed / MiB) * 10) / 10,
      liveTensors: n.liveTensors,
      liveTensorMiB: Math.round((n.liveBytes / MiB) * 10) / 10,
      cacheIdleMiB: n.cpuCache ? Math.round((n.cpuCache.idleBytes / MiB) * 10) / 10 : null,
    });
    process.stderr.write(`soak: ${JSON.stringify(samples[samples.length - 1])}\n`);
  };
  try {
    const res = await runDistill({
      teacherDir,
      studentArch: 'lenet5-half',
      method: 'ta-dfkd',
      userConfig,
      overrides: { seed, iterations },
      out: runDir,
      onWarn: (w) => process.stderr.write(`warning: ${w}\n`),
      onProgress: (p) => {
        while (p.iteration * base.studentSteps >= nextSample) {
          sample(p.iteration);
          nextSample += every;
        }
      },
    });
    const first = samples[0];
    const last = samples[samples.length - 1];
    const rssGrowth = growth(first.rssMiB, last.rssMiB);
    // The first samples fall in the fill-up (allocator cache, replay buffer); a leak also shows from the middle on.
    const mid = samples.find((s) => s.studentSteps >= (iterations * base.studentSteps) / 2) ?? first;
    const result = {
      command: `node dist/bench/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
      dataset: tRec.dataset,
      teacher: teacherDir,
      method: 'ta-dfkd',
      studentSteps: iterations * base.studentSteps,
      iterations,
      sampleEvery: every,
      samples,
      growthAfterFirstSample: {
        rss: rssGrowth,
        heapUsed: growth(first.heapUsedMiB, last.heapUsedMiB),
        liveTensors: growth(first.liveTensors, last.liveTensors),
        liveTensorBytes: growth(first.liveTensorMiB, last.liveTensorMiB),
      },
      growthSecondHalf: { fromStudentSteps: mid.studentSteps, rss: growth(mid.rssMiB, last.rssMiB), liveTensors: growth(mid.liveTensors, last.liveTensors) },
      maxRssMiB: Math.max(...samples.map((s) => s.rssMiB)),
      maxGrowth,
      pass: rssGrowth < maxGrowth,
      finalAccuracy: res.summary?.finalAccuracy,
      wallTimeSec: nowSeconds() - t0,
      versions: versions(),
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(result, null, 2));
    if (!result.pass) process.exitCode = 1;
  } finally {
    if (!v.keep && !v.out) fs.rmSync(out, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`soak: error: ${(e as Error).message}`);
  process.exit(1);
});

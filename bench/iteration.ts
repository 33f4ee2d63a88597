/**
 * `npm run bench:iteration`: the cost of one TA-DFKD iteration (Fashion-MNIST default preset:
 * batch 128, 10 student steps : 1 generator step, generator width 32, nz 256, GMM selection on;
 * LeNet-5-half student) for LeNet-5, ResNet-8 and VGG-5 teachers, profiled by phase, against a
 * plain PyTorch implementation of the same iteration (bench/torch_iteration.py, Debian's
 * python3-torch) run in the same process tree, one side after the other (never concurrently).
 * Prints a table on stderr and one JSON object on stdout, and writes it to --out.
 * See docs/benchmarks.md ("Iteration benchmark").
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Command } from 'commander';
import { setNumThreads, getNumThreads } from '../src/tensor';
import { versions } from '../src/versions';
import { benchTeacher, anchorCache, DATASET } from './iteration/teachers';
import { runDfkdSide, benchConfig, mergeRounds, SideResult } from './iteration/dfkd-side';
import { forwardFlopsPerSample, iterationFlops, sgemmPeak, NetFlops } from './iteration/flops';
import { PHASES } from './iteration/profile';
import { Generator, buildModel } from '../src/models';
import type { Classifier } from '../src/models/registry';
import type { MemoryFormat } from '../src/nn';
import { PRECISIONS, type Precision } from '../src/distill/precision';

const ARCHS = ['lenet5', 'resnet8', 'vgg5'];
const log = (m: string): void => void process.stderr.write(`${m}\n`);

interface Opts {
  teachers: string;
  iterations: string;
  warmup: string;
  rounds: string;
  seed: string;
  threads?: string;
  teacherSteps: string;
  teacher: string[];
  torch: boolean;
  eval: boolean;
  targets: string;
  dfkdTargets?: string;
  memoryFormat?: string;
  torchMemoryFormat?: string;
  precision?: string;
  torchPrecision?: string;
  torchMalloc: string;
  studentThreads?: string;
  work?: string;
  out?: string;
  python?: string;
}

function parseArgs(): Opts {
  return new Command('bench:iteration')
    .option('--teachers <list>', 'teacher architectures', ARCHS.join(','))
    .option('--iterations <n>', 'timed iterations per side and round (the median over all rounds is reported)', '10')
    .option('--warmup <n>', 'untimed warm-up iterations per side and round', '3')
    .option('--rounds <n>', 'rounds per teacher: each runs the dfkd side, then the PyTorch side', '1')
    .option('--seed <n>', 'distillation seed', '0')
    .option('--threads <n>', 'intra-op threads on both sides (default: DFKD_NUM_THREADS or the core count)')
    .option('--teacher-steps <n>', 'SGD steps of the briefly trained teachers (timing does not depend on accuracy)', '200')
    .option('--teacher <arch=dir>', 'use this dfkd teacher directory for ARCH (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--no-torch', 'skip the PyTorch side')
    .option('--no-eval', 'skip timing the evaluation pass')
    .option('--targets <mode>', "PyTorch side's student targets: reuse (the selection logits) or recompute", 'reuse')
    .option('--dfkd-targets <mode>', 'dfkd side: selection.targets reuse or recompute (default: the config default)')
    .option('--memory-format <fmt>', 'memoryFormat of the teacher and generator on both sides: contiguous or channels-last (default: the config default)')
    .option('--torch-memory-format <fmt>', 'PyTorch side only: contiguous or channels-last (default: as --memory-format)')
    .option('--precision <p>', "the config's precision on both sides: float32 or bf16-forwards (no-grad forwards under bfloat16 autocast; default: the config default)")
    .option('--torch-precision <p>', 'PyTorch side only: float32 or bf16-forwards (default: as --precision)')
    .option('--torch-malloc <mode>', "PyTorch side's glibc malloc: tuned (MALLOC_* env = the addon's mallopt settings) or glibc (defaults)", 'tuned')
    .option('--student-threads <n>', "experiment: dfkd side runs the student's forward/backward with this many threads")
    .option('--python <path>', 'python with torch (default: /usr/bin/python3, then python3)')
    .option('--work <dir>', 'cached teachers and the files both sides read', 'runs/bench-iteration')
    .option('--out <file>', 'JSON file to write (default runs/bench-iteration/iteration-<date>.json)')
    .parse()
    .opts<Opts>();
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got '${v}'`);
  return n;
}

/** The first python that imports torch and numpy, or why none does. */
function findTorchPython(explicit?: string): { python?: string; why?: string } {
  const tried: string[] = [];
  for (const py of explicit ? [explicit] : ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python: py };
    tried.push(`${py}: ${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()}`);
  }
  return { why: `no python with torch and numpy found (${tried.join('; ')}); install Debian's python3-torch (apt-get install python3-torch) to compare` };
}

/**
 * The PyTorch side's environment: the benchmark's (OMP_WAIT_POLICY=PASSIVE as set by
 * src/tensor/native.ts) plus, with 'tuned', glibc's MALLOC_* variables set to the mallopt values
 * the addon applies at load (native/src/addon.cc tuneMalloc): on these VMs glibc's defaults return
 * and re-fault activation memory on every step, which made the PyTorch side several times slower.
 */
export const TUNED_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(512 << 20), MALLOC_TOP_PAD_: String(16 << 20) };
function torchEnv(malloc: string): NodeJS.ProcessEnv {
  return malloc === 'tuned' ? { ...process.env, ...TUNED_MALLOC_ENV } : { ...process.env };
}

function runTorchSide(py: string, a: { arch: string; weights: string; init: { student: string; generator: string }; cfgFile: string; warmup: number; iterations: number; threads: number; seed: number; targets: string; malloc: string; memoryFormat: string; precision?: string; anchors?: string }): SideResult & Record<string, unknown> {
  const args = [
    path.join(__dirname, '..', '..', 'bench', 'torch_iteration.py'),
    '--arch', a.arch, '--teacher-weights', a.weights, '--student-init', a.init.student, '--generator-init', a.init.generator,
    '--config', a.cfgFile, '--warmup', String(a.warmup), '--iterations', String(a.iterations), '--threads', String(a.threads),
    '--seed', String(a.seed), '--targets', a.targets, '--memory-format', a.memoryFormat,
    ...(a.anchors ? ['--anchors', a.anchors] : []),
    ...(a.precision ? ['--precision', a.precision] : []),
  ];
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 16 << 20, env: torchEnv(a.malloc) });
  if (r.status !== 0) throw new Error(`bench/torch_iteration.py failed (exit ${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as SideResult & Record<string, unknown>;
}

function netFlops(teacher: Classifier, cfg: ReturnType<typeof benchConfig>): NetFlops & { studentArch: string } {
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const gen = new Generator({ nz: cfg.generator.nz, width: cfg.generator.width, imageSize: 28, channels: 1 });
  try {
    return {
      generator: forwardFlopsPerSample(gen, [cfg.generator.nz]),
      teacher: forwardFlopsPerSample(teacher, [1, 32, 32]),
      student: forwardFlopsPerSample(student, [1, 32, 32]),
      studentArch: 'lenet5-half',
    };
  } finally {
    student.dispose();
    gen.dispose();
  }
}

const fmt = (s: number): string => (s * 1000).toFixed(1).padStart(8);

function printTable(arch: string, d: SideResult, t?: SideResult): void {
  log(`\n${arch}: dfkd ${d.medianSec.toFixed(3)} s/iter${t ? `, PyTorch ${t.medianSec.toFixed(3)} s/iter, ratio ${(d.medianSec / t.medianSec).toFixed(2)}` : ''}`);
  log(`  phase (ms/iter)          dfkd${t ? '   PyTorch' : ''}`);
  for (const p of PHASES) log(`  ${p.padEnd(22)}${fmt(d.phases[p] ?? 0)}${t ? `  ${fmt(t.phases[p] ?? 0)}` : ''}`);
}

/** The validated options. */
interface Settings {
  archs: string[];
  dirs: Map<string, string>;
  iterations: number;
  warmup: number;
  rounds: number;
  seed: number;
  steps: number;
  threads: number;
  studentThreads?: number;
  out: string;
  workRoot: string;
}

function settings(o: Opts): Settings {
  const warmup = Number(o.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup: expected an integer >= 0, got '${o.warmup}'`);
  for (const [flag, v] of [['--targets', o.targets], ['--dfkd-targets', o.dfkdTargets ?? 'reuse']]) {
    if (!['reuse', 'recompute'].includes(v)) throw new Error(`${flag}: expected reuse or recompute, got '${v}'`);
  }
  for (const [flag, v] of [['--memory-format', o.memoryFormat], ['--torch-memory-format', o.torchMemoryFormat]]) {
    if (v !== undefined && !['contiguous', 'channels-last'].includes(v)) throw new Error(`${flag}: expected contiguous or channels-last, got '${v}'`);
  }
  for (const [flag, v] of [['--precision', o.precision], ['--torch-precision', o.torchPrecision]]) {
    if (v !== undefined && !(PRECISIONS as readonly string[]).includes(v)) throw new Error(`${flag}: expected ${PRECISIONS.join(' or ')}, got '${v}'`);
  }
  if (!['tuned', 'glibc'].includes(o.torchMalloc)) throw new Error(`--torch-malloc: expected tuned or glibc, got '${o.torchMalloc}'`);
  const archs = o.teachers.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of archs) if (!ARCHS.includes(a)) throw new Error(`--teachers: unknown teacher '${a}' (known: ${ARCHS.join(', ')})`);
  const dirs = new Map(
    o.teacher.map((s) => {
      const [k, v] = s.split('=');
      if (!k || !v || !ARCHS.includes(k)) throw new Error(`--teacher: expected ARCH=DIR with ARCH one of ${ARCHS.join(', ')}, got '${s}'`);
      return [k, v] as const;
    }),
  );
  if (o.threads) setNumThreads(positiveInt(o.threads, '--threads'));
  return {
    archs,
    dirs,
    iterations: positiveInt(o.iterations, '--iterations'),
    warmup,
    rounds: positiveInt(o.rounds, '--rounds'),
    seed: Number(o.seed),
    steps: positiveInt(o.teacherSteps, '--teacher-steps'),
    threads: getNumThreads(),
    studentThreads: o.studentThreads ? positiveInt(o.studentThreads, '--student-threads') : undefined,
    out: o.out ?? path.join('runs', 'bench-iteration', `iteration-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    workRoot: o.work!,
  };
}

interface RunContext {
  o: Opts;
  s: Settings;
  cfg: ReturnType<typeof benchConfig>;
  cfgFile: string;
  work: string;
  python?: string;
  skipped?: string;
  sgemmGflops: number;
}

/** The PyTorch side's memory format: --torch-memory-format, else the dfkd side's. */
function torchMemoryFormat(c: RunContext): string {
  return c.o.torchMemoryFormat ?? c.cfg.memoryFormat ?? 'contiguous';
}

/** Both sides for one teacher, `rounds` times, alternating; the merged result and the ratio. */
function benchArch(arch: string, c: RunContext): Record<string, unknown> {
  const { o, s, cfg } = c;
  const t = benchTeacher(arch, { steps: s.steps, cacheDir: path.join(s.workRoot, 'teachers'), dir: s.dirs.get(arch), log });
  try {
    const flops = netFlops(t.model, cfg);
    const init = { student: path.join(c.work, `${arch}-student-init.safetensors`), generator: path.join(c.work, `${arch}-generator-init.safetensors`) };
    const anchors = anchorCache(t, path.join(s.workRoot, 'teachers'), log);
    const dr: SideResult[] = [];
    const trs: (SideResult & Record<string, unknown>)[] = [];
    // Rounds alternate the two sides (never concurrently) so that drift in the machine's speed hits both.
    for (let r = 0; r < s.rounds; r++) {
      log(`${arch}: round ${r + 1}/${s.rounds}: dfkd side (${s.warmup} warm-up + ${s.iterations} timed iterations)`);
      dr.push(runDfkdSide(t.model, cfg, { warmup: s.warmup, iterations: s.iterations, evalPass: o.eval && r === 0, init, studentThreads: s.studentThreads, teacherImages: anchors.images }));
      if (c.python) {
        log(`${arch}: round ${r + 1}/${s.rounds}: PyTorch side`);
        const a = { arch, weights: t.weightsFile, init, cfgFile: c.cfgFile, warmup: s.warmup, iterations: s.iterations, threads: s.threads, seed: s.seed, targets: o.targets, malloc: o.torchMalloc, memoryFormat: torchMemoryFormat(c), precision: o.torchPrecision, anchors: anchors.file };
        trs.push(runTorchSide(c.python, a));
      }
    }
    const d = mergeRounds(dr);
    const tr = trs.length ? mergeRounds(trs) : undefined;
    printTable(arch, d, tr);
    const dFlops = iterationFlops(d.samples, flops);
    const tFlops = tr ? iterationFlops(tr.samples, flops) : 0;
    return {
      arch,
      teacher: t.source,
      flopsPerSample: flops,
      dfkd: { ...d, flopsPerIteration: dFlops, gflops: dFlops / d.medianSec / 1e9, fractionOfSgemmPeak: dFlops / d.medianSec / 1e9 / c.sgemmGflops },
      torch: tr ? { ...tr, flopsPerIteration: tFlops, gflops: tFlops / tr.medianSec / 1e9 } : { skipped: c.skipped },
      ratio: tr ? d.medianSec / tr.medianSec : null,
    };
  } finally {
    t.model.dispose();
  }
}

async function main(): Promise<void> {
  const o = parseArgs();
  const s = settings(o);
  const work = path.join(s.workRoot, 'work');
  fs.mkdirSync(work, { recursive: true });
  const torchPy = o.torch ? findTorchPython(o.python) : { why: 'skipped (--no-torch)' };
  if (torchPy.why) log(`PyTorch side: ${torchPy.why}`);
  const cfg = benchConfig(s.seed, o.dfkdTargets as 'reuse' | 'recompute' | undefined, o.memoryFormat as MemoryFormat | undefined, o.precision as Precision | undefined);
  const cfgFile = path.join(work, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const loadStart = os.loadavg();
  const sgemm = sgemmPeak();
  log(`sgemm peak (dfkd, ${s.threads} threads): ${sgemm.gflops.toFixed(1)} GFLOP/s`);
  const ctx: RunContext = { o, s, cfg, cfgFile, work, python: torchPy.python, skipped: torchPy.why, sgemmGflops: sgemm.gflops };
  const teachers = s.archs.map((arch) => benchArch(arch, ctx));
  const torchSgemm = teachers.map((t) => (t.torch as { sgemm?: unknown }).sgemm).find((x) => x !== undefined);
  const ratios = teachers.map((t) => t.ratio);
  const result = {
    kind: 'dfkd-bench-iteration',
    command: `npm run bench:iteration -- ${process.argv.slice(2).join(' ')}`.trim(),
    dataset: DATASET,
    student: 'lenet5-half',
    config: cfg,
    protocol: { warmup: s.warmup, iterations: s.iterations, rounds: s.rounds, statistic: 'median seconds per iteration over all rounds; phases are means over the timed iterations' },
    threads: s.threads,
    studentThreads: s.studentThreads ?? null,
    dfkdTargets: cfg.selection.targets ?? 'reuse',
    memoryFormat: { dfkd: cfg.memoryFormat ?? 'contiguous', torch: torchMemoryFormat(ctx) },
    sgemm: { dfkd: sgemm, torch: torchSgemm ?? null },
    flopsNote: 'conv and linear layers only, 2 FLOPs per multiply-add; backward = 2x forward for trained networks, 1x for frozen ones (input gradients only)',
    teachers,
    maxRatio: ratios.length && ratios.every((r) => typeof r === 'number') ? Math.max(...(ratios as number[])) : null,
    target: 0.7,
    loadavg: { start: loadStart, end: os.loadavg() },
    env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY, DFKD_NUM_THREADS: process.env.DFKD_NUM_THREADS ?? null, DFKD_MALLOC: process.env.DFKD_MALLOC ?? null },
    torchEnv: { malloc: o.torchMalloc, ...(o.torchMalloc === 'tuned' ? TUNED_MALLOC_ENV : {}), targets: o.targets },
    versions: versions(),
    date: new Date().toISOString(),
  };
  fs.mkdirSync(path.dirname(s.out), { recursive: true });
  fs.writeFileSync(s.out, JSON.stringify(result, null, 2) + '\n');
  log(`\nwrote ${s.out}`);
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

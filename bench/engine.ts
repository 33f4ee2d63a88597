/**
 * Engine benchmark: ms/step of typical dfkd workloads through the TypeScript API (the addon) and
 * of the same workloads written directly in C++ against libtorch (bench/cpp/workloads.cpp).
 *
 *   npm run bench                                 # all workloads
 *   node dist/bench/engine.js --only resnet8_train_b128 --runs 20 --warmup 5 --rounds 3
 *
 * Flags (environment variable in brackets):
 *   --only NAME[,NAME]   run only these workloads (repeatable)
 *   --runs N             timed runs per round and side              [DFKD_BENCH_RUNS, 10]
 *   --warmup W           untimed warm-up runs per round and side    [DFKD_BENCH_WARMUP, 3]
 *   --rounds R           addon/C++ alternations per workload        [DFKD_BENCH_ROUNDS, 2]
 *   --threads T          libtorch intra-op threads, both sides      [DFKD_NUM_THREADS, cores]
 *   --no-cpp             measure the addon only (no C++ build)
 *   --rebuild            rebuild the C++ reference even when cached
 *   --count-calls        also count native (N-API) calls per step (run separately from timing)
 *   --list               print the workload names
 *
 * For each workload the two sides alternate R times (addon in this process, then the C++ binary
 * as a subprocess for that workload); each side does W warm-up runs then N timed runs per round,
 * and the reported value is the median of all its timed runs. Progress goes to stderr; one JSON
 * object goes to stdout.
 */
import * as childProcess from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { F, Tensor, keep, noGrad, randint, randn, setNumThreads, getNumThreads, tidy, manualSeed, memoryStats } from '../src/tensor';
import { native } from '../src/tensor/native';
import { Module } from '../src/nn';
import { Adam, Optimizer, SGD } from '../src/optim';
import { Generator, buildModel } from '../src/models';
import { versions } from '../src/versions';

const TARGET = 1.15;
const ROOT = path.resolve(__dirname, '..', '..');
const CPP_SOURCE = path.join(ROOT, 'bench', 'cpp', 'workloads.cpp');
/** Where the compiled C++ reference is cached (DFKD_BENCH_CACHE overrides; note that node-gyp rebuild wipes build/). */
const CPP_BUILD_DIR = process.env.DFKD_BENCH_CACHE ? path.resolve(process.env.DFKD_BENCH_CACHE) : path.join(ROOT, 'build', 'bench');

interface Workload {
  /** One step; everything it creates is released before it returns. */
  step(): void;
  /** Frees the models, optimizer state and inputs. */
  dispose(): void;
}

interface WorkloadSpec {
  name: string;
  description: string;
  make(): Workload;
}

function disposeAll(modules: Module[], optimizers: Optimizer[], tensors: Tensor[]): void {
  for (const o of optimizers) o.dispose();
  for (const m of modules) m.dispose();
  for (const t of tensors) t.dispose();
}

/** A classifier train step: forward, cross-entropy, backward, SGD(momentum 0.9) step, all inside tidy(). */
function classifierTrain(arch: string, inChannels: number, batch: number, lr: number): Workload {
  const model = buildModel(arch, { inChannels, numClasses: 10 });
  model.train();
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
  const x = keep(randn([batch, inChannels, 32, 32]));
  const y = keep(randint(0, 10, [batch]));
  return {
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.call(x), y);
        loss.backward();
        opt.step();
      }),
    dispose: () => disposeAll([model], [opt], [x, y]),
  };
}

/** A DAFL generator step on its own: z ~ N(0, 1), loss = mean(G(z)), backward, Adam step. */
function generatorTrain(width: number, batch: number): Workload {
  const gen = new Generator({ nz: 100, width, imageSize: 28, channels: 1 });
  gen.train();
  const opt = new Adam(gen.parameters(), { lr: 1e-3, betas: [0.5, 0.999] });
  return {
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = gen.call(randn([batch, 100])).mean();
        loss.backward();
        opt.step();
      }),
    dispose: () => disposeAll([gen], [opt], []),
  };
}

export const WORKLOADS: WorkloadSpec[] = [
  {
    name: 'lenet5_train_b256',
    description: 'LeNet-5 (BN) train step, batch 256 x 1x32x32, cross-entropy, SGD momentum 0.9',
    make: () => classifierTrain('lenet5', 1, 256, 0.01),
  },
  {
    name: 'generator_w64_b256',
    description: 'DAFL generator (nz 100, width 64, 1x28x28) forward + mean loss + backward + Adam, batch 256',
    make: () => generatorTrain(64, 256),
  },
  {
    name: 'generator_w128_b256',
    description: 'DAFL generator (nz 100, width 128, 1x28x28) forward + mean loss + backward + Adam, batch 256',
    make: () => generatorTrain(128, 256),
  },
  {
    name: 'resnet18_fwd_b256',
    description: 'CIFAR ResNet-18 forward, eval mode under noGrad, batch 256 x 3x32x32',
    make: () => {
      const model = buildModel('resnet18', { inChannels: 3, numClasses: 10 });
      model.eval();
      const x = keep(randn([256, 3, 32, 32]));
      return {
        step: () => noGrad(() => tidy(() => void model.call(x))),
        dispose: () => disposeAll([model], [], [x]),
      };
    },
  },
  {
    name: 'resnet8_train_b128',
    description: 'CIFAR ResNet-8 train step, batch 128 x 3x32x32, cross-entropy, SGD momentum 0.9',
    make: () => classifierTrain('resnet8', 3, 128, 0.1),
  },
];

// ------------------------------------------------------------------ options

interface Options {
  only: string[];
  runs: number;
  warmup: number;
  rounds: number;
  threads: number;
  cpp: boolean;
  rebuild: boolean;
  countCalls: boolean;
  list: boolean;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    only: [],
    runs: envInt('DFKD_BENCH_RUNS') ?? 10,
    warmup: envInt('DFKD_BENCH_WARMUP') ?? 3,
    rounds: envInt('DFKD_BENCH_ROUNDS') ?? 2,
    threads: getNumThreads(),
    cpp: true,
    rebuild: false,
    countCalls: false,
    list: false,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${v ?? 'nothing'}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--only': o.only.push(...(value() ?? '').split(',').filter((s) => s.length > 0)); break;
      case '--runs': o.runs = int(flag, value(), 1); break;
      case '--warmup': o.warmup = int(flag, value(), 0); break;
      case '--rounds': o.rounds = int(flag, value(), 1); break;
      case '--threads': o.threads = int(flag, value(), 1); break;
      case '--no-cpp': o.cpp = false; break;
      case '--rebuild': o.rebuild = true; break;
      case '--count-calls': o.countCalls = true; break;
      case '--list': o.list = true; break;
      case '-h': case '--help':
        process.stderr.write('usage: node dist/bench/engine.js [--only NAME] [--runs N] [--warmup W] [--rounds R] [--threads T] [--no-cpp] [--rebuild] [--count-calls] [--list]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown flag '${a}' (see --help)`);
    }
  }
  const known = new Set(WORKLOADS.map((w) => w.name));
  for (const n of o.only) if (!known.has(n)) throw new Error(`--only: unknown workload '${n}'; known: ${[...known].join(', ')}`);
  return o;
}

// ------------------------------------------------------------------ measurement

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

interface Samples {
  /** Wall time of each timed run (ms). */
  wall: number[];
  /** Process user+system CPU time of each timed run (ms, all threads). */
  cpu: number[];
  /** Minor page faults of each timed run. */
  minflt: number[];
}

function cpuMs(r: NodeJS.ResourceUsage): number {
  return (r.userCPUTime + r.systemCPUTime) / 1000;
}

function timeSteps(w: Workload, warmup: number, runs: number): Samples {
  for (let i = 0; i < warmup; i++) w.step();
  const s: Samples = { wall: [], cpu: [], minflt: [] };
  for (let i = 0; i < runs; i++) {
    const r0 = process.resourceUsage();
    const t0 = process.hrtime.bigint();
    w.step();
    const t1 = process.hrtime.bigint();
    const r1 = process.resourceUsage();
    s.wall.push(Number(t1 - t0) / 1e6);
    s.cpu.push(cpuMs(r1) - cpuMs(r0));
    s.minflt.push(r1.minorPageFault - r0.minorPageFault);
  }
  return s;
}

/** Native calls per step, by function name (wraps the binding's functions for one step). */
function countCalls(w: Workload): { total: number; byName: Record<string, number> } {
  w.step(); // warm: optimizer state and caches exist
  const counts: Record<string, number> = {};
  const table = native as unknown as Record<string, unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const [k, v] of Object.entries(table)) {
    if (typeof v !== 'function' || k === 'TensorHandle') continue;
    const fn = v as (...args: unknown[]) => unknown;
    originals.set(k, fn);
    table[k] = (...args: unknown[]) => {
      counts[k] = (counts[k] ?? 0) + 1;
      return fn(...args);
    };
  }
  try {
    w.step();
  } finally {
    for (const [k, fn] of originals) table[k] = fn;
  }
  const byName = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
  return { total: Object.values(counts).reduce((a, b) => a + b, 0), byName };
}

// ------------------------------------------------------------------ the C++ reference

function sh(cmd: string): string {
  return childProcess.execSync(cmd, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

interface CppBuild {
  binary: string;
  cached: boolean;
  seconds: number;
  command: string;
}

/** Compiles bench/cpp/workloads.cpp once per (source, flags, compiler) and caches it in build/bench/. */
function buildCpp(rebuild: boolean): CppBuild {
  const cxx = process.env.CXX ?? 'g++';
  const include = sh('node native/config.js include').split(/\s+/).filter(Boolean).map((d) => `-I${d}`);
  const defines = sh('node native/config.js defines').split(/\s+/).filter(Boolean).map((d) => `-D${d}`);
  const libdir = sh('node native/config.js libdir');
  const libs = sh('node native/config.js libs').split(/\s+/).filter(Boolean);
  const flags = ['-std=c++17', '-O2', ...defines, ...include];
  const link = [`-L${libdir}`, `-Wl,-rpath,${libdir}`, ...libs];
  const compilerVersion = sh(`${cxx} --version`).split('\n')[0];
  const hash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(CPP_SOURCE))
    .update(fs.readFileSync(path.join(ROOT, 'native', 'src', 'cpu_allocator.h')))
    .update(JSON.stringify({ cxx, compilerVersion, flags, link }))
    .digest('hex')
    .slice(0, 16);
  const binary = path.join(CPP_BUILD_DIR, `workloads-${hash}`);
  const args = [...flags, CPP_SOURCE, '-o', `${binary}.tmp`, ...link];
  const command = [cxx, ...args].join(' ');
  if (!rebuild && fs.existsSync(binary)) return { binary, cached: true, seconds: 0, command };
  fs.mkdirSync(CPP_BUILD_DIR, { recursive: true });
  log(`building the C++ reference (torch/torch.h is heavy: a few minutes, cached afterwards) -> ${path.relative(ROOT, binary)}`);
  const t0 = Date.now();
  const r = childProcess.spawnSync(cxx, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`C++ reference build failed (exit ${r.status}): ${command}`);
  fs.renameSync(`${binary}.tmp`, binary);
  const seconds = (Date.now() - t0) / 1000;
  log(`built in ${seconds.toFixed(0)} s`);
  return { binary, cached: false, seconds, command };
}

interface CppResult {
  workload: string;
  threads: number;
  times_ms: number[];
  cpu_ms: number[];
  minflt: number[];
  median_ms: number;
  libtorch: string;
  malloc_tuned: boolean;
  cpu_cache: boolean;
  parallel: string;
}

function runCpp(build: CppBuild, name: string, o: Options): CppResult {
  if (!fs.existsSync(build.binary)) {
    // `npm run build:native` (node-gyp rebuild) wipes build/, this cache included.
    log(`the C++ reference binary is gone (build/ was cleaned?); rebuilding`);
    Object.assign(build, buildCpp(true));
  }
  const args = ['--workload', name, '--warmup', String(o.warmup), '--runs', String(o.runs), '--threads', String(o.threads)];
  // Same environment as this process (OMP_WAIT_POLICY, DFKD_MALLOC, ...), so both sides run alike.
  const r = childProcess.spawnSync(build.binary, args, { env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`C++ workload ${name} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`C++ workload ${name} failed (${r.status !== null ? `exit ${r.status}` : `signal ${r.signal}`})`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as CppResult;
  if (res.threads !== o.threads) throw new Error(`C++ workload ${name} ran with ${res.threads} threads, expected ${o.threads}`);
  return res;
}

// ------------------------------------------------------------------ main

interface WorkloadResult {
  description: string;
  /** Median wall ms/step of the addon (all rounds). */
  addon_ms: number;
  /** Median wall ms/step of the C++ reference (all rounds). */
  cpp_ms: number | null;
  /** addon_ms / cpp_ms. */
  ratio: number | null;
  /** Median process CPU ms/step (user+system, all threads): less sensitive to a busy machine. */
  addon_cpu_ms: number;
  cpp_cpu_ms: number | null;
  cpu_ratio: number | null;
  /** Median minor page faults per step. */
  addon_minflt: number;
  cpp_minflt: number | null;
  addon_min_ms: number;
  cpp_min_ms: number | null;
  /** Median wall ms/step of each round, to show drift. */
  addon_rounds_ms: number[];
  cpp_rounds_ms: number[];
  native_calls_per_step?: number;
  native_calls_by_name?: Record<string, number>;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (o.list) {
    for (const w of WORKLOADS) process.stdout.write(`${w.name}\t${w.description}\n`);
    return;
  }
  setNumThreads(o.threads);
  const selected = WORKLOADS.filter((w) => o.only.length === 0 || o.only.includes(w.name));
  const loadStart = os.loadavg();
  const build = o.cpp ? buildCpp(o.rebuild) : undefined;

  const results: Record<string, WorkloadResult> = {};
  let cppInfo: Pick<CppResult, 'libtorch' | 'malloc_tuned' | 'cpu_cache' | 'parallel'> | undefined;
  for (const spec of selected) {
    const addon: Samples = { wall: [], cpu: [], minflt: [] };
    const cpp: Samples = { wall: [], cpu: [], minflt: [] };
    const addonRounds: number[] = [];
    const cppRounds: number[] = [];
    let calls: ReturnType<typeof countCalls> | undefined;
    for (let r = 0; r < o.rounds; r++) {
      manualSeed(0);
      const w = spec.make();
      try {
        log(`${spec.name} round ${r + 1}/${o.rounds}: addon (${o.warmup} warm-up + ${o.runs} runs)`);
        const t = timeSteps(w, o.warmup, o.runs);
        addon.wall.push(...t.wall);
        addon.cpu.push(...t.cpu);
        addon.minflt.push(...t.minflt);
        addonRounds.push(round3(median(t.wall)));
        log(`  addon median ${median(t.wall).toFixed(1)} ms (cpu ${median(t.cpu).toFixed(1)} ms, ${median(t.minflt)} page faults)`);
        if (o.countCalls && r === 0) calls = countCalls(w);
      } finally {
        w.dispose();
      }
      if (build) {
        log(`${spec.name} round ${r + 1}/${o.rounds}: C++ (${o.warmup} warm-up + ${o.runs} runs)`);
        const c = runCpp(build, spec.name, o);
        cpp.wall.push(...c.times_ms);
        cpp.cpu.push(...c.cpu_ms);
        cpp.minflt.push(...c.minflt);
        cppRounds.push(round3(c.median_ms));
        cppInfo = { libtorch: c.libtorch, malloc_tuned: c.malloc_tuned, cpu_cache: c.cpu_cache, parallel: c.parallel };
        log(`  C++   median ${c.median_ms.toFixed(1)} ms (cpu ${median(c.cpu_ms).toFixed(1)} ms, ${median(c.minflt)} page faults)`);
      }
    }
    const hasCpp = cpp.wall.length > 0;
    const a = median(addon.wall);
    const c = hasCpp ? median(cpp.wall) : NaN;
    const ac = median(addon.cpu);
    const cc = hasCpp ? median(cpp.cpu) : NaN;
    results[spec.name] = {
      description: spec.description,
      addon_ms: round3(a),
      cpp_ms: hasCpp ? round3(c) : null,
      ratio: hasCpp ? round3(a / c) : null,
      addon_cpu_ms: round3(ac),
      cpp_cpu_ms: hasCpp ? round3(cc) : null,
      cpu_ratio: hasCpp ? round3(ac / cc) : null,
      addon_minflt: median(addon.minflt),
      cpp_minflt: hasCpp ? median(cpp.minflt) : null,
      addon_min_ms: round3(Math.min(...addon.wall)),
      cpp_min_ms: hasCpp ? round3(Math.min(...cpp.wall)) : null,
      addon_rounds_ms: addonRounds,
      cpp_rounds_ms: cppRounds,
      ...(calls ? { native_calls_per_step: calls.total, native_calls_by_name: calls.byName } : {}),
    };
    if (hasCpp) log(`${spec.name}: addon ${a.toFixed(1)} ms, C++ ${c.toFixed(1)} ms, ratio ${(a / c).toFixed(3)} (cpu ratio ${(ac / cc).toFixed(3)})`);
  }

  const ratios = Object.values(results)
    .map((r) => r.ratio)
    .filter((r): r is number => r !== null);
  const maxRatio = ratios.length > 0 ? Math.max(...ratios) : null;
  const out = {
    threads: getNumThreads(),
    versions: { ...versions(), ...(cppInfo ? { cppLibtorch: cppInfo.libtorch, cppMallocTuned: cppInfo.malloc_tuned, cppCpuCache: cppInfo.cpu_cache } : {}) },
    date: new Date().toISOString(),
    /** Settings both sides inherit (the C++ reference runs with this process's environment). */
    env: Object.fromEntries(
      ['OMP_WAIT_POLICY', 'OMP_NUM_THREADS', 'DFKD_MALLOC', 'DFKD_CPU_CACHE_MB', 'DFKD_GC_SLACK_MB'].map((k) => [k, process.env[k] ?? null]),
    ),
    cpuAllocator: memoryStats().cpuCache, // the addon's caching allocator at the end (null when turned off)
    loadavg: { start: loadStart.map(round3), end: os.loadavg().map(round3) },
    protocol: { warmup: o.warmup, runs: o.runs, rounds: o.rounds, statistic: 'median' as const, interleaved: 'per workload: addon then C++ subprocess, each round' },
    cppBuild: build ? { cached: build.cached, seconds: round3(build.seconds), binary: path.relative(ROOT, build.binary), command: build.command } : null,
    workloads: results,
    maxRatio,
    target: TARGET,
    pass: maxRatio !== null && maxRatio <= TARGET,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

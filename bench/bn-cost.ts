/**
 * What the frozen teacher's BatchNorm layers cost in its forwards without autograd (the selection and
 * relabelling forwards), the upper bound of folding them into the convolutions (docs/benchmarks.md, "What was
 * looked at and left alone"): a batch-256 eval forward with the BN layers as they are, and with their forward
 * replaced by the identity, alternated in one process, 3 rounds of 30 forwards each after 5 warm-up ones;
 * prints one JSON line per teacher with the medians in ms. On a quiet machine:
 *
 *   npx tsc -p . && node dist/bench/bn-cost.js [THREADS (2)] [channels-last|contiguous]
 */
import { buildModel } from '../src/models';
import { setMemoryFormat, BatchNorm, Module } from '../src/nn';
import { manualSeed, randn, tidy, noGrad, setNumThreads, Tensor } from '../src/tensor';

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

/** Median ms of 30 no-grad forwards of `m` on `x`, after 5 warm-up ones. */
function forwardMs(m: Module, x: Tensor): number {
  for (let i = 0; i < 5; i++) tidy(() => noGrad(() => m.call(x)));
  const ts: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = process.hrtime.bigint();
    tidy(() => noGrad(() => m.call(x)));
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ts);
}

const threads = Number(process.argv[2] ?? 2);
const format = process.argv[3] === 'contiguous' ? 'contiguous' : 'channels-last';
setNumThreads(threads);
for (const arch of ['resnet8', 'vgg5', 'lenet5']) {
  manualSeed(0);
  const m = buildModel(arch, { inChannels: 1, numClasses: 10, imageSize: 32 });
  m.eval();
  m.requiresGrad_(false);
  if (format === 'channels-last') setMemoryFormat(m, 'channels-last');
  const x = randn([256, 1, 32, 32]);
  const bns = m.modules().filter((q): q is BatchNorm => q instanceof BatchNorm);
  const identity = (on: boolean): void => bns.forEach((b) => (on ? (b.forward = (y: Tensor) => y) : delete (b as { forward?: unknown }).forward));
  const rounds: [number, number][] = [];
  for (let r = 0; r < 3; r++) {
    identity(false);
    const withBn = forwardMs(m, x);
    identity(true);
    rounds.push([withBn, forwardMs(m, x)]);
  }
  identity(false);
  const withBn = median(rounds.map((r) => r[0]));
  const without = median(rounds.map((r) => r[1]));
  console.log(JSON.stringify({ arch, threads, format, bnLayers: bns.length, withBnMs: +withBn.toFixed(2), identityBnMs: +without.toFixed(2), ratio: +(without / withBn).toFixed(3) }));
  x.dispose();
  m.dispose();
}

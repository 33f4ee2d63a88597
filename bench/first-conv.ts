/**
 * The one-channel first convolution under channels-last (docs/benchmarks.md, "Applied 2026-12-02"):
 * teacher forwards of 70 samples without autograd, with the first convolution's weight in NCHW strides
 * (dfkd's behaviour before 2026-12-02) and in channels-last strides (now), alternated in one process,
 * 6 rounds of 30 forwards each; prints the medians in ms. On a quiet machine:
 *
 *   npx tsc -p . && node dist/bench/first-conv.js
 */
import { buildModel } from '../src/models';
import { setMemoryFormat } from '../src/nn';
import { manualSeed, randn, tidy, noGrad } from '../src/tensor';

/** A one-channel teacher in channels-last; with `nchwFirst` its first convolution weight back in NCHW strides. */
function teacher(arch: string, nchwFirst: boolean) {
  manualSeed(0);
  const m = buildModel(arch, { inChannels: 1, numClasses: 10, imageSize: 32 });
  m.eval();
  m.requiresGrad_(false);
  setMemoryFormat(m, 'channels-last');
  if (nchwFirst) {
    const p = m.parameters().find((t) => t.shape.length === 4)!;
    const q = p.contiguousFormat();
    p.setData_(q);
    q.dispose();
  }
  return m;
}

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

for (const arch of ['lenet5', 'vgg5', 'resnet8']) {
  const models = { before: teacher(arch, true), now: teacher(arch, false) };
  const x = randn([70, 1, 32, 32]);
  const times: Record<'before' | 'now', number[]> = { before: [], now: [] };
  for (let r = 0; r < 6; r++) {
    for (const k of ['before', 'now'] as const) {
      for (let i = 0; i < 3; i++) tidy(() => noGrad(() => models[k].call(x)));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 30; i++) tidy(() => noGrad(() => models[k].call(x)));
      times[k].push(Number(process.hrtime.bigint() - t0) / 30 / 1e6);
    }
  }
  console.log(`${arch}: forward of 70 samples, first convolution NCHW (before) ${median(times.before).toFixed(2)} ms, channels-last (now) ${median(times.now).toFixed(2)} ms`);
  x.dispose();
  models.before.dispose();
  models.now.dispose();
}

/**
 * The memoryFormat option (issue 16): channels-last convolution weights for the teacher and the
 * generator. Values and shapes stay the same, runs stay deterministic and resume bit-identically.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { runDistill } from '../src/distill/run';
import { resolveConfig } from '../src/distill/config';
import { runConfigHash } from '../src/distill/run';
import { setMemoryFormat } from '../src/nn';
import { buildModel } from '../src/models';
import { manualSeed, randn, tidy, noGrad, zeros, F } from '../src/tensor';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';
import { studentWeights } from './helpers/resume';

const quiet = { onWarn: () => undefined };

test('channelsLast keeps shape and values, and refuses a tensor that is not 4-D by name', () => {
  manualSeed(1);
  tidy(() => {
    const x = randn([2, 3, 4, 5]);
    const y = x.channelsLast();
    assert.deepEqual(y.shape, [2, 3, 4, 5]);
    assert.deepEqual(y.toFloat32Array(), x.toFloat32Array());
    assert.throws(() => zeros([3, 4]).channelsLast(), /channelsLast: expected a 4-D tensor \[N,C,H,W\], got \[3,4\]/);
  });
});

test('setMemoryFormat leaves every weight value unchanged and the forward pass equal within float rounding', () => {
  for (const arch of ['resnet8', 'vgg5']) {
    manualSeed(2);
    const m = buildModel(arch, { inChannels: 1, numClasses: 10, imageSize: 28 });
    m.eval();
    const x = randn([8, 1, 28, 28]);
    const before = m.parameters().map((p) => p.toFloat32Array());
    const y0 = noGrad(() => m.call(x));
    setMemoryFormat(m, 'channels-last');
    assert.deepEqual(m.parameters().map((p) => p.toFloat32Array()), before, `${arch}: values unchanged`);
    const y1 = noGrad(() => m.call(x));
    const diff = tidy(() => y1.sub(y0).abs().max().item());
    assert.ok(diff < 1e-4, `${arch}: channels-last logits within 1e-4 of contiguous (max diff ${diff})`);
    setMemoryFormat(m, 'contiguous');
    const y2 = noGrad(() => m.call(x));
    assert.deepEqual(y2.toFloat32Array(), y0.toFloat32Array(), `${arch}: back to contiguous gives the contiguous logits bit for bit`);
    for (const t of [x, y0, y1, y2]) t.dispose();
    m.dispose();
  }
});

test('under channels-last the first convolution of a one-channel network returns channels-last, as in PyTorch', () => {
  // A [16,1,3,3] weight is "contiguous" in both orders; contiguous(ChannelsLast) left its strides alone and
  // the convolution then returned NCHW, so the layers after it ran in the slow order (docs/benchmarks.md).
  for (const arch of ['vgg5', 'resnet8', 'lenet5']) {
    manualSeed(3);
    const m = buildModel(arch, { inChannels: 1, numClasses: 10, imageSize: 32 });
    setMemoryFormat(m, 'channels-last');
    const first = m.parameters().find((p) => p.shape.length === 4)!;
    assert.equal(first.shape[1], 1, `${arch}: the first convolution has one input channel`);
    assert.equal(first.memoryFormat, 'channels-last', `${arch}: its weight is channels-last`);
    tidy(() => {
      const y = F.conv2d(randn([4, 1, 32, 32]), first, undefined, { padding: 1 });
      assert.equal(y.memoryFormat, 'channels-last', `${arch}: its output is channels-last`);
    });
    setMemoryFormat(m, 'contiguous');
    assert.equal(first.memoryFormat, 'contiguous');
    m.dispose();
  }
});

test('memoryFormat: channels-last by default, not part of the run identity, deterministic, and resumes bit-identically', async () => {
  const dflt = resolveConfig('ta-dfkd', 'mnist', TINY);
  const nchw = resolveConfig('ta-dfkd', 'mnist', { ...TINY, memoryFormat: 'contiguous' });
  assert.equal(dflt.memoryFormat, 'channels-last', 'new runs get channels-last');
  assert.equal(runConfigHash(dflt, 'sha', 'lenet5-half'), runConfigHash(nchw, 'sha', 'lenet5-half'), 'the memory order is not part of the identity (like the device)');
  assert.throws(() => resolveConfig('ta-dfkd', 'mnist', { memoryFormat: 'nhwc' } as never), /memoryFormat/);

  const teacherDir = tinyTeacher('lenet5');
  const cfg = { ...TINY, memoryFormat: 'channels-last' as const };
  const a = path.join(tmpDir('cl-a'), 'run');
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: a, ...quiet });
  const b = path.join(tmpDir('cl-b'), 'run');
  const r1 = await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: b, shouldStop: () => true, ...quiet });
  assert.equal(r1.stopped, true);
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: b, resume: true, ...quiet });
  const wa = studentWeights(a);
  const wb = studentWeights(b);
  assert.ok(wa.every((t, i) => t.every((v, j) => v === wb[i][j])), 'a resumed channels-last run ends bit-identical to an uninterrupted one');
});

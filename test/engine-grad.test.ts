/**
 * Gradient checks (central finite differences in float64) for every differentiable op of the
 * tensor engine. Inputs are drawn from a seeded JS generator, kept away from kinks, ties and the
 * edges of each op's domain so that the finite differences are meaningful.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, tensor, cat, stack, where, manualSeed, noGrad, tidy, setNumThreads, grad, enableGrad } from '../src/tensor';
import { gradcheck, mulberry32, GradcheckOptions } from './helpers/gradcheck';

// Every op here is tiny: one intra-op thread avoids OpenMP spin-waiting, which makes such ops 10-20x
// slower on a busy 2-core machine. (Each test file runs in its own process.)
setNumThreads(1);

const rng = mulberry32(20240611);

/** Uniform float64 values in [lo, hi), requiring grad unless `grad` is false. */
function uni(shape: number[], lo = -1, hi = 1, grad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng();
  return tensor(v, shape, 'float64').requiresGrad_(grad);
}
/** Like uni but every value at least `margin` away from each of `points` (kinks, bounds). */
function away(shape: number[], points: number[], lo = -1, hi = 1, margin = 0.05, grad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x: number;
    do x = lo + (hi - lo) * rng();
    while (points.some((p) => Math.abs(x - p) < margin));
    v[i] = x;
  }
  return tensor(v, shape, 'float64').requiresGrad_(grad);
}
/** Values that are pairwise at least ~1/n apart (no ties for max/min/sort/pooling), shuffled. */
function distinct(shape: number[], grad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) / n * 2 + 0.2 * rng() / n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return tensor(Float64Array.from(v), shape, 'float64').requiresGrad_(grad);
}
function idx(values: number[], shape?: number[]): Tensor {
  return tensor(values, shape, 'int64');
}
function mask(values: number[], shape?: number[]): Tensor {
  return tensor(values, shape, 'bool');
}
/** Positive rows summing to 1 (probability targets). */
function probs(n: number, c: number, grad = false): Tensor {
  return noGrad(() => tidy(() => uni([n, c], -1, 1, false).softmax(1).detach().clone())).requiresGrad_(grad);
}

function gc(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Tensor[], opts?: GradcheckOptions): void {
  test(`grad: ${name}`, () => {
    const r = gradcheck(fn, inputs(), opts);
    assert.ok(r.checked > 0, `expected some gradient elements to be checked, got ${r.checked}`);
  });
}

// ------------------------------------------------------------------ the checker itself
test('gradcheck: detects a wrong gradient and names input, element and both values', () => {
  // d/dx of x * stopgrad(x) is reported by autograd as x but is 2x numerically.
  const x = tensor([0.5, -0.75, 1.25], undefined, 'float64').requiresGrad_();
  assert.throws(() => gradcheck((a) => a.mul(a.detach()), [x]), /input 0 .*element 0: analytic -?[\d.e-]+ vs numeric -?[\d.e-]+/);
  // second input wrong only
  const y = tensor([0.3, 0.4], undefined, 'float64').requiresGrad_();
  assert.throws(() => gradcheck((a, b) => a.add(b.mul(b.detach())), [uni([2]), y]), /input 1 /);
});
test('gradcheck: passes a correct gradient and counts elements', () => {
  const r = gradcheck((a, b) => a.mul(b), [uni([2, 3]), uni([2, 3])]);
  assert.equal(r.checked, 12);
  assert.ok(r.maxAbsDiff < 1e-7, `max |diff| ${r.maxAbsDiff}`);
});
test('gradcheck: rejects float32 inputs', () => {
  assert.throws(() => gradcheck((a) => a, [tensor([1, 2]).requiresGrad_()]), /float64/);
});

// ------------------------------------------------------------------ elementwise binary
gc('add tensor+tensor', (a, b) => a.add(b), () => [uni([3, 4]), uni([3, 4])]);
gc('add broadcast [3,4]+[4]', (a, b) => a.add(b), () => [uni([3, 4]), uni([4])]);
gc('add broadcast [2,1,3]+[4,1]', (a, b) => a.add(b), () => [uni([2, 1, 3]), uni([4, 1])]);
gc('add scalar', (a) => a.add(2.5), () => [uni([3, 2])]);
gc('sub tensor-tensor broadcast', (a, b) => a.sub(b), () => [uni([3, 4]), uni([3, 1])]);
gc('sub scalar', (a) => a.sub(-1.5), () => [uni([5])]);
gc('rsub', (a) => a.rsub(3), () => [uni([4])]);
gc('mul tensor*tensor broadcast', (a, b) => a.mul(b), () => [uni([2, 3, 4]), uni([3, 1])]);
gc('mul scalar', (a) => a.mul(-0.7), () => [uni([3, 3])]);
gc('div tensor/tensor broadcast', (a, b) => a.div(b), () => [uni([3, 4]), away([4], [0], -2, 2, 0.4)]);
gc('div scalar', (a) => a.div(3), () => [uni([6])]);
gc('pow tensor^scalar (3)', (a) => a.pow(3), () => [uni([2, 3])]);
gc('pow tensor^scalar (2.5, positive base)', (a) => a.pow(2.5), () => [uni([2, 3], 0.5, 2)]);
gc('pow tensor^scalar (-1.5, positive base)', (a) => a.pow(-1.5), () => [uni([4], 0.5, 2)]);
gc('pow tensor^tensor (base and exponent)', (a, b) => a.pow(b), () => [uni([3, 2], 0.5, 2), uni([3, 2], -2, 2)]);
gc('pow tensor^tensor broadcast', (a, b) => a.pow(b), () => [uni([3, 2], 0.5, 2), uni([2], 0.5, 3)]);
gc('maximum tensor', (a, b) => a.maximum(b), () => {
  const a = uni([12]);
  const b = noGrad(() => a.detach().add(away([12], [0], -0.5, 0.5, 0.1, false))).requiresGrad_();
  return [a, b];
});
gc('minimum tensor broadcast', (a, b) => a.minimum(b), () => [away([3, 4], [-0.3, 0.1, 0.4], -1, 1, 0.05), tensor([-0.3, 0.1, 0.4, 0.1], undefined, 'float64').requiresGrad_()]);
gc('maximum scalar', (a) => a.maximum(0.2), () => [away([8], [0.2])]);
gc('minimum scalar', (a) => a.minimum(-0.1), () => [away([8], [-0.1])]);

// ------------------------------------------------------------------ elementwise unary
gc('neg', (a) => a.neg(), () => [uni([2, 3])]);
gc('exp', (a) => a.exp(), () => [uni([2, 3], -2, 2)]);
gc('log (positive)', (a) => a.log(), () => [uni([2, 3], 0.2, 3)]);
gc('log1p', (a) => a.log1p(), () => [uni([2, 3], -0.5, 2)]);
gc('sqrt', (a) => a.sqrt(), () => [uni([2, 3], 0.3, 3)]);
gc('rsqrt', (a) => a.rsqrt(), () => [uni([2, 3], 0.3, 3)]);
gc('abs (away from 0)', (a) => a.abs(), () => [away([10], [0])]);
gc('square', (a) => a.square(), () => [uni([2, 3], -2, 2)]);
gc('reciprocal', (a) => a.reciprocal(), () => [away([6], [0], -2, 2, 0.3)]);
gc('sin', (a) => a.sin(), () => [uni([6], -3, 3)]);
gc('cos', (a) => a.cos(), () => [uni([6], -3, 3)]);
gc('relu (away from the kink)', (a) => a.relu(), () => [away([10], [0])]);
gc('F.relu', (a) => F.relu(a), () => [away([10], [0])]);
gc('leakyRelu default slope', (a) => a.leakyRelu(), () => [away([10], [0])]);
gc('F.leakyRelu slope 0.2', (a) => F.leakyRelu(a, 0.2), () => [away([10], [0])]);
gc('sigmoid', (a) => a.sigmoid(), () => [uni([2, 4], -3, 3)]);
gc('F.sigmoid', (a) => F.sigmoid(a), () => [uni([4], -3, 3)]);
gc('tanh', (a) => a.tanh(), () => [uni([2, 4], -2, 2)]);
gc('F.tanh', (a) => F.tanh(a), () => [uni([4], -2, 2)]);
gc('clamp(min,max) away from bounds', (a) => a.clamp(-0.5, 0.5), () => [away([12], [-0.5, 0.5])]);
gc('clamp(min only)', (a) => a.clamp(0.1), () => [away([12], [0.1])]);
gc('clamp(max only)', (a) => a.clamp(undefined, -0.2), () => [away([12], [-0.2])]);
gc('clone and contiguous of a permuted view', (a) => a.permute(1, 0).contiguous().clone().mul(a.permute(1, 0)), () => [uni([3, 4])]);

// ------------------------------------------------------------------ matmul
gc('matmul 2-D', (a, b) => a.matmul(b), () => [uni([3, 4]), uni([4, 5])]);
gc('matmul batched', (a, b) => a.matmul(b), () => [uni([2, 3, 4]), uni([2, 4, 2])]);
gc('matmul batched x 2-D (broadcast)', (a, b) => a.matmul(b), () => [uni([2, 3, 4]), uni([4, 5])]);
gc('matmul matrix x vector', (a, b) => a.matmul(b), () => [uni([3, 4]), uni([4])]);

// ------------------------------------------------------------------ reductions
gc('sum all', (a) => a.sum(), () => [uni([2, 3, 4])]);
gc('sum dim', (a) => a.sum(1), () => [uni([2, 3, 4])]);
gc('sum dims keepdim', (a) => a.sum([0, 2], true), () => [uni([2, 3, 4])]);
gc('sum negative dim', (a) => a.sum(-1), () => [uni([2, 3, 4])]);
gc('mean all', (a) => a.mean(), () => [uni([2, 3, 4])]);
gc('mean dim keepdim', (a) => a.mean(2, true), () => [uni([2, 3, 4])]);
gc('mean dims', (a) => a.mean([0, 1]), () => [uni([2, 3, 4])]);
gc('var all unbiased', (a) => a.var(), () => [uni([3, 4])]);
gc('var all biased', (a) => a.var(undefined, false), () => [uni([3, 4])]);
gc('var dim unbiased keepdim', (a) => a.var(1, true, true), () => [uni([3, 4])]);
gc('var dims biased', (a) => a.var([0, 2], false), () => [uni([2, 3, 4])]);
gc('std all', (a) => a.std(), () => [uni([3, 4])]);
gc('std dim biased keepdim', (a) => a.std(0, false, true), () => [uni([3, 4])]);
gc('std dim unbiased', (a) => a.std(1), () => [uni([3, 4])]);
gc('norm p=2 all', (a) => a.norm(), () => [uni([3, 4])]);
gc('norm p=2 dim', (a) => a.norm(2, 1), () => [uni([3, 4])]);
gc('norm p=1 dim keepdim (away from 0)', (a) => a.norm(1, 0, true), () => [away([3, 4], [0], -1, 1, 0.05)]);
gc('norm p=3 dims', (a) => a.norm(3, [0, 1]), () => [uni([2, 3, 2])]);
gc('sum all keepdim', (a) => a.sum(undefined, true), () => [uni([2, 3])]);
gc('mean all keepdim', (a) => a.mean(undefined, true), () => [uni([2, 3])]);
gc('var all biased keepdim', (a) => a.var(undefined, false, true), () => [uni([2, 3])]);
gc('std all unbiased keepdim', (a) => a.std(undefined, true, true), () => [uni([2, 3])]);
gc('norm all keepdim', (a) => a.norm(2, undefined, true), () => [uni([2, 3])]);
gc('max all keepdim', (a) => a.max(undefined, true), () => [distinct([2, 3])]);
gc('min all keepdim', (a) => a.min(undefined, true), () => [distinct([2, 3])]);
gc('max all', (a) => a.max(), () => [distinct([3, 4])]);
gc('max dim', (a) => a.max(1), () => [distinct([3, 4])]);
gc('max dims keepdim', (a) => a.max([0, 2], true), () => [distinct([2, 3, 4])]);
gc('min all', (a) => a.min(), () => [distinct([3, 4])]);
gc('min dim keepdim', (a) => a.min(0, true), () => [distinct([3, 4])]);
gc('maxWithIndices values', (a) => a.maxWithIndices(1)[0], () => [distinct([3, 4])]);
gc('minWithIndices values keepdim', (a) => a.minWithIndices(0, true)[0], () => [distinct([3, 4])]);
gc('topk values', (a) => a.topk(2, 1)[0], () => [distinct([3, 5])]);
gc('topk smallest values', (a) => a.topk(2, 0, false)[0], () => [distinct([4, 3])]);
gc('sort values descending', (a) => a.sort(1, true)[0], () => [distinct([3, 5])]);
gc('logsumexp dim', (a) => a.logsumexp(1), () => [uni([3, 4], -2, 2)]);
gc('logsumexp dims keepdim', (a) => a.logsumexp([0, 2], true), () => [uni([2, 3, 4], -2, 2)]);
gc('logsumexp all dims', (a) => a.logsumexp([0, 1]), () => [uni([3, 4], -2, 2)]);
gc('softmax dim 1', (a) => a.softmax(1), () => [uni([3, 4], -2, 2)]);
gc('softmax dim 0 (3-D)', (a) => a.softmax(0), () => [uni([3, 2, 2], -2, 2)]);
gc('F.softmax dim -1', (a) => F.softmax(a, -1), () => [uni([2, 5], -2, 2)]);
gc('logSoftmax dim 1', (a) => a.logSoftmax(1), () => [uni([3, 4], -2, 2)]);
gc('F.logSoftmax dim 0', (a) => F.logSoftmax(a, 0), () => [uni([3, 4], -2, 2)]);

// ------------------------------------------------------------------ shape and indexing
gc('reshape (with -1)', (a) => a.reshape(-1, 2).mul(a.reshape([6, 2])), () => [uni([3, 4])]);
gc('view', (a) => a.view(4, 3), () => [uni([3, 4])]);
gc('permute', (a) => a.permute(2, 0, 1), () => [uni([2, 3, 4])]);
gc('transpose', (a) => a.transpose(0, 2), () => [uni([2, 3, 4])]);
gc('flatten all', (a) => a.flatten(), () => [uni([2, 3, 2])]);
gc('flatten from dim 1', (a) => a.flatten(1), () => [uni([2, 3, 2])]);
gc('squeeze all', (a) => a.squeeze(), () => [uni([1, 3, 1, 2])]);
gc('squeeze dim', (a) => a.squeeze(2), () => [uni([2, 3, 1])]);
const unsqueezeWeights = uni([2, 4, 3], -1, 1, false);
gc('unsqueeze', (a) => a.unsqueeze(1).mul(unsqueezeWeights), () => [uni([2, 3])]);
gc('expand', (a) => a.expand(2, 3, 4), () => [uni([3, 1])]);
gc('repeat', (a) => a.repeat(2, 1, 3), () => [uni([2, 3])]);
gc('flip', (a) => a.flip([0, 2]), () => [uni([2, 3, 2])]);
gc('narrow', (a) => a.narrow(1, 1, 2), () => [uni([3, 4])]);
gc('slice with step', (a) => a.slice(1, 0, 5, 2), () => [uni([2, 6])]);
gc('slice negative dim, default end, step 3', (a) => a.slice(-1, 1, undefined, 3), () => [uni([2, 7])]);
gc('select', (a) => a.select(0, 1), () => [uni([3, 4])]);
gc('select negative dim', (a) => a.select(-1, 2), () => [uni([3, 4])]);
gc('split then cat', (a) => cat(a.split(2, 1).map((p, i) => p.mul(i + 1)), 1), () => [uni([2, 5])]);
gc('indexSelect (repeated indices accumulate)', (a) => a.indexSelect(0, idx([2, 0, 2, 1])), () => [uni([3, 4])]);
gc('indexSelect dim 1', (a) => a.indexSelect(1, idx([3, 3, 0])), () => [uni([2, 4])]);
gc('maskedSelect', (a) => a.maskedSelect(mask([1, 0, 1, 1, 0, 1], [2, 3])), () => [uni([2, 3])]);
gc('maskedSelect broadcast mask', (a) => a.maskedSelect(mask([1, 0, 1])), () => [uni([2, 3])]);
gc('gather', (a) => a.gather(1, idx([0, 2, 2, 1, 0, 0], [2, 3])), () => [uni([2, 4])]);
gc('cat dim 0 (three inputs)', (a, b, c) => cat([a, b, c], 0), () => [uni([1, 3]), uni([2, 3]), uni([1, 3])]);
gc('cat dim 1', (a, b) => cat([a, b], 1), () => [uni([2, 2]), uni([2, 3])]);
gc('stack dim 0', (a, b) => stack([a, b], 0), () => [uni([2, 3]), uni([2, 3])]);
gc('stack dim -1', (a, b) => stack([a, b], -1), () => [uni([2, 3]), uni([2, 3])]);
gc('where tensor/tensor', (a, b) => where(mask([1, 0, 0, 1, 1, 0], [2, 3]), a, b), () => [uni([2, 3]), uni([2, 3])]);
gc('where broadcast and scalar', (a) => where(mask([1, 0, 1]), a, 0.5), () => [uni([2, 3])]);
gc('pad last two dims with value', (a) => F.pad(a, [1, 2, 0, 1], 0.5), () => [uni([1, 2, 3])]);
gc('pad negative (crop)', (a) => F.pad(a, [-1, 1]), () => [uni([2, 4])]);

// ------------------------------------------------------------------ layers
gc('F.linear with bias', (x, w, b) => F.linear(x, w, b), () => [uni([4, 3]), uni([5, 3]), uni([5])]);
gc('F.linear without bias', (x, w) => F.linear(x, w), () => [uni([4, 3]), uni([2, 3])]);
gc('F.linear 3-D input', (x, w, b) => F.linear(x, w, b), () => [uni([2, 3, 4]), uni([2, 4]), uni([2])]);
gc('F.conv2d plain with bias', (x, w, b) => F.conv2d(x, w, b), () => [uni([2, 2, 5, 5]), uni([3, 2, 3, 3]), uni([3])]);
gc('F.conv2d stride 2 padding 1 groups 2 with bias', (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }), () => [
  uni([2, 4, 6, 6]),
  uni([4, 2, 3, 3]),
  uni([4]),
]);
gc('F.conv2d dilation 2 no bias', (x, w) => F.conv2d(x, w, undefined, { dilation: 2, padding: [2, 1] }), () => [uni([1, 2, 6, 5]), uni([2, 2, 3, 3])]);
gc('channelsLast copy of a 4-D tensor', (a) => a.channelsLast().mul(a), () => [uni([2, 3, 2, 2])]);
gc('contiguousFormat of a channels-last tensor', (a) => a.channelsLast().contiguousFormat().mul(a), () => [uni([2, 3, 2, 2])]);
gc('channelsLast of a one-channel tensor (copied into channels-last strides)', (a) => a.channelsLast().mul(a), () => [uni([2, 1, 2, 2])]);
gc('F.conv2d with channels-last input and weight', (x, w, b) => F.conv2d(x.channelsLast(), w.channelsLast(), b, { padding: 1 }), () => [uni([2, 3, 4, 4]), uni([4, 3, 3, 3]), uni([4])]);
gc('F.conv2d asymmetric stride/kernel', (x, w) => F.conv2d(x, w, undefined, { stride: [2, 1] }), () => [uni([1, 1, 5, 4]), uni([2, 1, 3, 2])]);
gc('F.batchNorm training (x, weight, bias)', (x, w, b) => F.batchNorm(x, { weight: w, bias: b, training: true }), () => [
  uni([4, 3, 2, 2], -2, 2),
  uni([3], 0.5, 1.5),
  uni([3]),
]);
gc('F.batchNorm training with running stats, 2-D input', (x, w, b) =>
  F.batchNorm(x, { weight: w, bias: b, training: true, runningMean: tensor([0, 0, 0], undefined, 'float64'), runningVar: tensor([1, 1, 1], undefined, 'float64'), momentum: 0.3 }),
() => [uni([5, 3], -2, 2), uni([3], 0.5, 1.5), uni([3])]);
gc('F.batchNorm training without affine', (x) => F.batchNorm(x, { training: true, eps: 1e-3 }), () => [uni([3, 2, 2, 2], -2, 2)]);
gc('F.batchNorm eval (running stats)', (x, w, b) =>
  F.batchNorm(x, { weight: w, bias: b, training: false, runningMean: tensor([0.1, -0.2, 0.3], undefined, 'float64'), runningVar: tensor([0.5, 1.5, 2], undefined, 'float64') }),
() => [uni([2, 3, 2, 2], -2, 2), uni([3], 0.5, 1.5), uni([3])]);
gc('F.maxPool2d 2x2', (x) => F.maxPool2d(x, 2), () => [distinct([2, 2, 4, 4])]);
gc('F.maxPool2d 3x3 stride 2 padding 1', (x) => F.maxPool2d(x, 3, 2, 1), () => [distinct([1, 2, 5, 5])]);
gc('F.avgPool2d 2x2', (x) => F.avgPool2d(x, 2), () => [uni([2, 2, 4, 4])]);
gc('F.avgPool2d 3x3 stride 2 padding 1', (x) => F.avgPool2d(x, 3, 2, 1), () => [uni([1, 2, 5, 5])]);
gc('F.adaptiveAvgPool2d to 1', (x) => F.adaptiveAvgPool2d(x, 1), () => [uni([2, 3, 3, 3])]);
gc('F.adaptiveAvgPool2d 5x5 -> 3x2', (x) => F.adaptiveAvgPool2d(x, [3, 2]), () => [uni([1, 2, 5, 5])]);
gc('F.interpolate nearest size', (x) => F.interpolate(x, { size: [5, 3] }), () => [uni([1, 2, 3, 2])]);
gc('F.interpolate nearest scaleFactor 2', (x) => F.interpolate(x, { scaleFactor: 2, mode: 'nearest' }), () => [uni([2, 1, 2, 3])]);
gc('F.interpolate bilinear alignCorners false', (x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear' }), () => [uni([1, 2, 3, 3])]);
gc('F.interpolate bilinear alignCorners true', (x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: true }), () => [uni([1, 2, 3, 3])]);
gc('F.interpolate bilinear downsample', (x) => F.interpolate(x, { size: [2, 3], mode: 'bilinear' }), () => [uni([1, 1, 5, 5])]);
gc('F.dropout p=0 training', (x) => F.dropout(x, 0, true), () => [uni([3, 4])]);
gc('F.dropout p=0.5 not training (identity)', (x) => F.dropout(x, 0.5, false), () => [uni([3, 4])]);
gc('F.dropout p=0.5 training, reseeded each evaluation', (x) => {
  manualSeed(77);
  return F.dropout(x, 0.5, true);
}, () => [uni([4, 5])]);

test('F.dropout p=0.5: the seeded mask is identical across evaluations and scales kept units by 2', () => {
  const x = tensor(Float64Array.from({ length: 200 }, (_, i) => 1 + i / 200), [200], 'float64');
  const run = () =>
    tidy(() => {
      manualSeed(77);
      return Array.from(F.dropout(x, 0.5, true).toFloat64Array());
    });
  const a = run();
  const b = run();
  assert.deepEqual(a, b, 'the dropout mask differed between two evaluations with the same seed');
  const xs = x.toFloat64Array();
  const zeros = a.filter((v) => v === 0).length;
  assert.ok(zeros > 60 && zeros < 140, `expected about half of 200 units dropped, got ${zeros}`);
  a.forEach((v, i) => {
    if (v !== 0) assert.ok(Math.abs(v - 2 * xs[i]) < 1e-12, `kept unit ${i}: expected ${2 * xs[i]}, got ${v}`);
  });
});

// ------------------------------------------------------------------ losses
const cls = () => idx([2, 0, 1, 2]);
gc('F.crossEntropy class indices (mean)', (z) => F.crossEntropy(z, cls()), () => [uni([4, 3], -2, 2)]);
gc('F.crossEntropy class indices (sum)', (z) => F.crossEntropy(z, cls(), { reduction: 'sum' }), () => [uni([4, 3], -2, 2)]);
gc('F.crossEntropy class indices (none)', (z) => F.crossEntropy(z, cls(), { reduction: 'none' }), () => [uni([4, 3], -2, 2)]);
gc('F.crossEntropy int32 targets', (z) => F.crossEntropy(z, tensor([1, 0, 2], undefined, 'int32')), () => [uni([3, 3], -2, 2)]);
gc('F.crossEntropy probability targets (grad wrt logits and targets)', (z, p) => F.crossEntropy(z, p), () => [uni([4, 3], -2, 2), probs(4, 3, true)]);
gc('F.crossEntropy label smoothing 0.1 (indices)', (z) => F.crossEntropy(z, cls(), { labelSmoothing: 0.1 }), () => [uni([4, 3], -2, 2)]);
const ceProbs = probs(4, 3);
gc('F.crossEntropy probability targets held fixed', (z) => F.crossEntropy(z, ceProbs), () => [uni([4, 3], -2, 2)]);
gc('F.crossEntropy label smoothing 0.2 with prob targets', (z) => F.crossEntropy(z, tensor([[0.2, 0.5, 0.3], [1, 0, 0]], undefined, 'float64'), { labelSmoothing: 0.2 }), () => [uni([2, 3], -2, 2)]);
gc('F.crossEntropy spatial (N,C,H,W) targets (N,H,W)', (z) => F.crossEntropy(z, idx([0, 1, 2, 1], [1, 2, 2])), () => [uni([1, 3, 2, 2], -2, 2)]);
gc('F.nllLoss on logSoftmax (mean)', (z) => F.nllLoss(z.logSoftmax(1), cls()), () => [uni([4, 3], -2, 2)]);
gc('F.nllLoss direct input (sum)', (z) => F.nllLoss(z, cls(), 'sum'), () => [uni([4, 3], -2, 2)]);
gc('F.nllLoss none', (z) => F.nllLoss(z, cls(), 'none'), () => [uni([4, 3], -2, 2)]);
gc('F.klDiv batchmean (input and target grads)', (z, p) => F.klDiv(z.logSoftmax(1), p), () => [uni([3, 4], -2, 2), probs(3, 4, true)]);
gc('F.klDiv batchmean logTarget', (z, q) => F.klDiv(z.logSoftmax(1), q.logSoftmax(1), { logTarget: true }), () => [uni([3, 4], -2, 2), uni([3, 4], -2, 2)]);
const klProbs = probs(3, 4);
gc('F.klDiv sum', (z) => F.klDiv(z.logSoftmax(1), klProbs, { reduction: 'sum' }), () => [uni([3, 4], -2, 2)]);
gc('F.klDiv mean logTarget', (z, t) => F.klDiv(z, t, { reduction: 'mean', logTarget: true }), () => [uni([3, 4], -2, 0), uni([3, 4], -2, 0)]);
gc('F.klDiv none', (z, p) => F.klDiv(z, p, { reduction: 'none' }), () => [uni([2, 3], -2, 0), uni([2, 3], 0.1, 1)]);
function l1Inputs(): Tensor[] {
  const a = uni([3, 4]);
  const b = noGrad(() => a.detach().add(away([3, 4], [0], -1, 1, 0.1, false))).requiresGrad_();
  return [a, b];
}
gc('F.l1Loss mean (away from 0 difference)', (a, b) => F.l1Loss(a, b), l1Inputs);
gc('F.l1Loss sum', (a, b) => F.l1Loss(a, b, 'sum'), l1Inputs);
gc('F.l1Loss none', (a, b) => F.l1Loss(a, b, 'none'), l1Inputs);
gc('F.mseLoss mean', (a, b) => F.mseLoss(a, b), () => [uni([3, 4]), uni([3, 4])]);
gc('F.mseLoss sum', (a, b) => F.mseLoss(a, b, 'sum'), () => [uni([3, 4]), uni([3, 4])]);
gc('F.mseLoss none', (a, b) => F.mseLoss(a, b, 'none'), () => [uni([3, 4]), uni([3, 4])]);

// ------------------------------------------------------------------ composite / frozen network
test('grad: a frozen network passes gradients to its input; its parameters get none', () => {
  const w1 = uni([6, 4], -1, 1, false);
  const b1 = uni([6], -1, 1, false);
  const w2 = uni([3, 6], -1, 1, false);
  const b2 = uni([3], -1, 1, false);
  const net = (x: Tensor) => F.linear(F.linear(x, w1, b1).tanh(), w2, b2).logSoftmax(1);
  const x = uni([5, 4]);

  const r = gradcheck(net, [x]);
  assert.equal(r.checked, 20);

  tidy(() => {
    const loss = F.nllLoss(net(x), idx([0, 1, 2, 0, 1]));
    assert.equal(loss.requiresGrad, true, 'the loss of a frozen net on a grad-requiring input should require grad');
    loss.backward();
  });
  const g = x.grad;
  assert.ok(g !== undefined, 'the input got no gradient');
  assert.deepEqual(g.shape, [5, 4]);
  assert.ok(g.abs().sum().item() > 0, 'the input gradient is all zeros');
  for (const [name, p] of Object.entries({ w1, b1, w2, b2 })) {
    assert.equal(p.requiresGrad, false, `${name}.requiresGrad changed`);
    assert.equal(p.grad, undefined, `${name} got a gradient: expected undefined`);
  }
  // detach() cuts the graph: no gradient flows through a detached branch.
  x.zeroGrad();
  tidy(() => x.detach().mul(3).add(x).sum().backward());
  assert.deepEqual(Array.from(x.grad!.toFloat64Array()), new Array(20).fill(1), 'expected d/dx sum(3*detach(x) + x) = 1');
});

test('grad: conv net (conv -> batchNorm -> relu -> pool -> linear) end to end', () => {
  const fn = (x: Tensor, w: Tensor, g: Tensor, b: Tensor, wl: Tensor) => {
    const h = F.conv2d(x, w, undefined, { padding: 1 });
    const n = F.batchNorm(h, { weight: g, bias: b, training: true });
    const p = F.avgPool2d(n.tanh(), 2);
    return F.crossEntropy(F.linear(p.flatten(1), wl), idx([0, 1]));
  };
  gradcheck(fn, [uni([2, 1, 4, 4]), uni([2, 1, 3, 3]), uni([2], 0.5, 1.5), uni([2]), uni([2, 8])]);
});

// ------------------------------------------------------------------ grad(): returned and second-order gradients
test('grad(): first-order gradients equal what backward() accumulates, and leave .grad alone', () => {
  const x = uni([2, 1, 4, 4]);
  const w = uni([2, 1, 3, 3]);
  const f = (): Tensor => F.conv2d(x, w, undefined, { padding: 1 }).tanh().square().sum();
  const [gx, gw] = tidy(() => grad(f(), [x, w]).map((t) => t.keep()));
  assert.equal(x.grad, undefined, 'grad() must not accumulate into x.grad');
  tidy(() => f().backward());
  assert.deepEqual(Array.from(gx.toFloat64Array()), Array.from(x.grad!.toFloat64Array()));
  assert.deepEqual(Array.from(gw.toFloat64Array()), Array.from(w.grad!.toFloat64Array()));
  assert.equal(gx.requiresGrad, false, 'without createGraph the gradient is a plain tensor');
});

test('grad(): an input the output does not depend on gets zeros; bad calls say what is wrong', () => {
  const x = uni([3]);
  const y = uni([2]);
  const [gx, gy] = grad(x.square().sum(), [x, y]);
  assert.deepEqual(Array.from(gy.toFloat64Array()), [0, 0]);
  assert.equal(gx.shape[0], 3);
  assert.throws(() => grad(x.square(), [x]), /scalar outputs; this tensor has 3 elements/);
  assert.throws(() => noGrad(() => grad(x.square().sum(), [x])), /does not require grad/);
  assert.throws(() => grad(x.square().sum(), [uni([3], -1, 1, false)]), /input 0 does not require grad/);
  const [g2] = grad(x.square(), [x], { gradOutput: tensor([1, 2, 3], undefined, 'float64') });
  const xs = x.toFloat64Array();
  assert.deepEqual(Array.from(g2.toFloat64Array()), [2 * xs[0], 4 * xs[1], 6 * xs[2]]);
});

/**
 * The squared input gradient of a scalar projection of net(x): what input-gradient (Jacobian) matching
 * backpropagates. Evaluated with grad on (the checker's finite differences run under noGrad) and through a
 * leaf copy of x when x itself does not require grad.
 */
function inputGradSquare(net: (x: Tensor, ...p: Tensor[]) => Tensor): (x: Tensor, ...p: Tensor[]) => Tensor {
  return (x, ...p) =>
    enableGrad(() => {
      const xi = x.requiresGrad ? x : x.detach().requiresGrad_();
      const out = net(xi, ...p);
      const r = tensor(Array.from({ length: out.shape[1] }, (_, i) => (i % 2 === 0 ? 1 : -0.5)), [1, out.shape[1]], 'float64');
      const [gx] = grad(out.mul(r).sum(), [xi], { createGraph: true });
      return gx.square().sum();
    });
}

test('grad(): second order (createGraph) through conv -> batchNorm (training) -> tanh -> avgPool -> linear', () => {
  const net = (x: Tensor, w: Tensor, g: Tensor, b: Tensor, wl: Tensor) => {
    const h = F.batchNorm(F.conv2d(x, w, undefined, { padding: 1 }), { weight: g, bias: b, training: true });
    return F.linear(F.avgPool2d(h.tanh(), 2).flatten(1), wl);
  };
  const r = gradcheck(inputGradSquare(net), [uni([3, 1, 4, 4]), uni([2, 1, 3, 3]), uni([2], 0.5, 1.5), uni([2]), uni([3, 8])]);
  assert.equal(r.checked, 48 + 18 + 2 + 2 + 24);
});

test('grad(): second order through the student\'s ops, conv -> relu -> maxPool -> linear (weights)', () => {
  const net = (x: Tensor, w: Tensor, wl: Tensor) => F.linear(F.maxPool2d(F.conv2d(x, w, undefined, { padding: 1 }).relu(), 2).flatten(1), wl);
  // x fixed (the second derivative in x is zero almost everywhere for relu / max); the weights are checked.
  const r = gradcheck(inputGradSquare(net), [distinct([2, 1, 4, 4], false), uni([2, 1, 3, 3]), uni([3, 8])]);
  assert.equal(r.checked, 18 + 24);
});

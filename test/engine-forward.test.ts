/** Forward values of the tensor engine against hand-computed results on small literal tensors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, F, tensor, zeros, ones, full, arange, rand, randn, randint, randperm, zerosLike, onesLike, randnLike, cat, stack, where,
  manualSeed, getRngState, setRngState, setNumThreads, getNumThreads, engineInfo, cudaAvailable, noGrad, enableGrad, isGradEnabled, tidy,
} from '../src/tensor';

/** Asserts shape and values (within tol), naming expected vs actual on failure. */
function expectT(t: Tensor, expected: number[], shape: number[], tol = 1e-6, what = 'tensor'): void {
  assert.deepEqual(t.shape, shape, `${what}: expected shape [${shape}], got [${t.shape}]`);
  const actual = Array.from(t.toFloat64Array());
  assert.equal(actual.length, expected.length, `${what}: expected ${expected.length} values, got ${actual.length}`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : e === a || Math.abs(a - e) <= tol * Math.max(1, Math.abs(e));
    if (!ok) assert.fail(`${what}: element ${i}: expected ${e}, got ${a}\n  expected [${expected.join(', ')}]\n  actual   [${actual.join(', ')}]`);
  }
}
function expectDtype(t: Tensor, dtype: string, what = 'tensor'): void {
  assert.equal(t.dtype, dtype, `${what}: expected dtype ${dtype}, got ${t.dtype}`);
}
function near(a: number, e: number, tol = 1e-6, what = 'value'): void {
  assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}: expected ${e}, got ${a}`);
}
const i64 = (v: number[] | number[][], shape?: number[]) => tensor(v as number[], shape, 'int64');
const f64 = (v: number[] | number[][] | number[][][], shape?: number[]) => tensor(v as number[], shape, 'float64');

// ------------------------------------------------------------------ arithmetic
test('arithmetic: elementwise and broadcasting', () => {
  const a = tensor([[1, 2], [3, 4]]);
  expectT(a.add(tensor([10, 20])), [11, 22, 13, 24], [2, 2], 0, 'add row broadcast');
  expectT(a.sub(tensor([[1], [2]])), [0, 1, 1, 2], [2, 2], 0, 'sub column broadcast');
  expectT(a.mul(a), [1, 4, 9, 16], [2, 2], 0, 'mul');
  expectT(a.div(tensor([2, 4])), [0.5, 0.5, 1.5, 1], [2, 2], 0, 'div');
  expectT(a.pow(2), [1, 4, 9, 16], [2, 2], 0, 'pow scalar');
  expectT(a.pow(tensor([0, 0.5])), [1, Math.SQRT2, 1, 2], [2, 2], 1e-6, 'pow tensor');
  expectT(tensor([[1], [2]]).mul(tensor([1, 10, 100])), [1, 10, 100, 2, 20, 200], [2, 3], 0, 'outer broadcast [2,1]*[3]');
  expectT(zeros([2, 1, 3]).add(ones([4, 1])), new Array(24).fill(1), [2, 4, 3], 0, 'broadcast to [2,4,3]');
  expectT(a.add(1.5), [2.5, 3.5, 4.5, 5.5], [2, 2], 0, 'add scalar');
  expectT(a.sub(1), [0, 1, 2, 3], [2, 2], 0, 'sub scalar');
  expectT(a.mul(-2), [-2, -4, -6, -8], [2, 2], 0, 'mul scalar');
  expectT(a.div(8), [0.125, 0.25, 0.375, 0.5], [2, 2], 0, 'div scalar');
  expectT(a.rsub(10), [9, 8, 7, 6], [2, 2], 0, 'rsub');
  expectT(a.maximum(tensor([2, 2])), [2, 2, 3, 4], [2, 2], 0, 'maximum');
  expectT(a.minimum(2.5), [1, 2, 2.5, 2.5], [2, 2], 0, 'minimum scalar');
  expectDtype(a.add(1), 'float32', 'float32 + int scalar');
  expectDtype(f64([1]).mul(2.5), 'float64', 'float64 * scalar');
});

test('arithmetic: integer tensors and scalar type promotion', () => {
  const n = arange(4); // int64 [0,1,2,3]
  expectDtype(n, 'int64', 'arange(4)');
  const p = n.add(2);
  expectDtype(p, 'int64', 'int64 + 2');
  expectT(p, [2, 3, 4, 5], [4], 0, 'int64 + 2');
  const h = n.mul(0.5);
  expectDtype(h, 'float32', 'int64 * 0.5 (promotes like PyTorch)');
  expectT(h, [0, 0.5, 1, 1.5], [4], 0, 'int64 * 0.5');
  expectT(n.lt(0.5), [1, 0, 0, 0], [4], 0, 'int64 < 0.5');
  expectT(n.div(2), [0, 0.5, 1, 1.5], [4], 0, 'int64 / 2 is true division');
  expectDtype(n.add(f64([1, 1, 1, 1])), 'float64', 'int64 + float64');
  expectDtype(tensor([1, 2], undefined, 'int32').add(n.narrow(0, 0, 2)), 'int64', 'int32 + int64');
});

test('arithmetic: unary functions', () => {
  const x = tensor([-2, -0.5, 0, 0.5, 2]);
  expectT(x.neg(), [2, 0.5, 0, -0.5, -2], [5], 0, 'neg');
  expectT(x.abs(), [2, 0.5, 0, 0.5, 2], [5], 0, 'abs');
  expectT(x.exp(), [-2, -0.5, 0, 0.5, 2].map(Math.exp), [5], 1e-6, 'exp');
  expectT(tensor([1, Math.E, 10]).log(), [0, 1, Math.log(10)], [3], 1e-6, 'log');
  expectT(tensor([0, 1]).log1p(), [0, Math.log(2)], [2], 1e-6, 'log1p');
  expectT(tensor([4, 9]).sqrt(), [2, 3], [2], 0, 'sqrt');
  expectT(tensor([4, 0.25]).rsqrt(), [0.5, 2], [2], 1e-6, 'rsqrt');
  expectT(x.square(), [4, 0.25, 0, 0.25, 4], [5], 0, 'square');
  expectT(tensor([2, -4]).reciprocal(), [0.5, -0.25], [2], 0, 'reciprocal');
  expectT(x.sign(), [-1, -1, 0, 1, 1], [5], 0, 'sign');
  expectT(tensor([-1.5, -0.2, 0.2, 1.5, 2.5]).floor(), [-2, -1, 0, 1, 2], [5], 0, 'floor');
  expectT(tensor([-1.5, -0.2, 0.2, 1.5]).ceil(), [-1, -0, 1, 2], [4], 0, 'ceil');
  expectT(tensor([-1.5, 0.4, 0.5, 1.5, 2.5]).round(), [-2, 0, 0, 2, 2], [5], 0, 'round (half to even)');
  expectT(tensor([0, Math.PI / 2]).sin(), [0, 1], [2], 1e-6, 'sin');
  expectT(tensor([0, Math.PI]).cos(), [1, -1], [2], 1e-6, 'cos');
  expectT(x.relu(), [0, 0, 0, 0.5, 2], [5], 0, 'relu');
  expectT(x.leakyRelu(0.1), [-0.2, -0.05, 0, 0.5, 2], [5], 1e-6, 'leakyRelu 0.1');
  expectT(x.leakyRelu(), [-0.02, -0.005, 0, 0.5, 2], [5], 1e-6, 'leakyRelu default 0.01');
  expectT(x.sigmoid(), [-2, -0.5, 0, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))), [5], 1e-6, 'sigmoid');
  expectT(x.tanh(), [-2, -0.5, 0, 0.5, 2].map(Math.tanh), [5], 1e-6, 'tanh');
  expectT(x.clamp(-1, 1), [-1, -0.5, 0, 0.5, 1], [5], 0, 'clamp');
  expectT(x.clamp(0), [0, 0, 0, 0.5, 2], [5], 0, 'clamp min only');
  expectT(x.clamp(undefined, 0), [-2, -0.5, 0, 0, 0], [5], 0, 'clamp max only');
  const z = tensor([0, 1, -1]).div(tensor([0, 0, 0]));
  expectT(z.isnan(), [1, 0, 0], [3], 0, 'isnan of [0/0, 1/0, -1/0]');
  expectT(z.isfinite(), [0, 0, 0], [3], 0, 'isfinite of [0/0, 1/0, -1/0]');
  expectT(tensor([1, 2]).isfinite(), [1, 1], [2], 0, 'isfinite');
});

test('comparison and logical ops', () => {
  const a = tensor([1, 2, 3]);
  const b = tensor([3, 2, 1]);
  expectDtype(a.eq(b), 'bool', 'eq');
  expectT(a.eq(b), [0, 1, 0], [3], 0, 'eq');
  expectT(a.ne(b), [1, 0, 1], [3], 0, 'ne');
  expectT(a.lt(b), [1, 0, 0], [3], 0, 'lt');
  expectT(a.le(2), [1, 1, 0], [3], 0, 'le scalar');
  expectT(a.gt(b), [0, 0, 1], [3], 0, 'gt');
  expectT(a.ge(2), [0, 1, 1], [3], 0, 'ge scalar');
  const m = a.gt(1);
  expectT(m.logicalNot(), [1, 0, 0], [3], 0, 'logicalNot');
  expectT(m.logicalAnd(a.lt(3)), [0, 1, 0], [3], 0, 'logicalAnd');
  expectT(m.logicalOr(a.lt(2)), [1, 1, 1], [3], 0, 'logicalOr');
  assert.equal(a.gt(0).all(), true, 'all([1,2,3] > 0)');
  assert.equal(a.gt(2).all(), false, 'all([1,2,3] > 2)');
  assert.equal(a.gt(2).any(), true, 'any([1,2,3] > 2)');
  assert.equal(a.gt(5).any(), false, 'any([1,2,3] > 5)');
});

test('matmul: 2-D, batched, matrix-vector', () => {
  expectT(tensor([[1, 2], [3, 4]]).matmul(tensor([[5, 6], [7, 8]])), [19, 22, 43, 50], [2, 2], 0, '2x2 @ 2x2');
  expectT(tensor([[1, 2, 3]]).matmul(tensor([[1], [0], [-1]])), [-2], [1, 1], 0, '1x3 @ 3x1');
  expectT(tensor([[1, 2], [3, 4]]).matmul(tensor([1, 1])), [3, 7], [2], 0, 'matrix @ vector');
  const A = tensor([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]); // [I, 2I]
  expectT(A.matmul(tensor([[1, 2], [3, 4]])), [1, 2, 3, 4, 2, 4, 6, 8], [2, 2, 2], 0, 'batched @ 2-D');
});

// ------------------------------------------------------------------ reductions
test('reductions: sum/mean/max/min/norm/logsumexp with and without dims', () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  expectT(x.sum(), [21], [], 0, 'sum');
  expectT(x.sum(0), [5, 7, 9], [3], 0, 'sum(0)');
  expectT(x.sum(1, true), [6, 15], [2, 1], 0, 'sum(1, keepdim)');
  expectT(x.sum([0, 1]), [21], [], 0, 'sum([0,1])');
  expectT(x.sum(-1), [6, 15], [2], 0, 'sum(-1)');
  expectT(x.sum(undefined, true), [21], [1, 1], 0, 'sum(all, keepdim)');
  expectT(x.mean(), [3.5], [], 0, 'mean');
  expectT(x.mean(0), [2.5, 3.5, 4.5], [3], 0, 'mean(0)');
  expectT(x.mean(undefined, true), [3.5], [1, 1], 0, 'mean(all, keepdim)');
  expectT(x.max(), [6], [], 0, 'max');
  expectT(x.max(1), [3, 6], [2], 0, 'max(1)');
  expectT(x.max(0, true), [4, 5, 6], [1, 3], 0, 'max(0, keepdim)');
  expectT(x.max(undefined, true), [6], [1, 1], 0, 'max(all, keepdim)');
  expectT(x.min(), [1], [], 0, 'min');
  expectT(x.min(1), [1, 4], [2], 0, 'min(1)');
  expectT(x.norm(), [Math.sqrt(91)], [], 1e-6, 'norm');
  expectT(x.norm(1), [21], [], 1e-6, 'norm p=1');
  expectT(x.norm(2, 1), [Math.sqrt(14), Math.sqrt(77)], [2], 1e-6, 'norm(2, dim 1)');
  expectT(x.norm(2, undefined, true), [Math.sqrt(91)], [1, 1], 1e-6, 'norm(all, keepdim)');
  expectT(tensor([[0, 0], [1, 1]]).logsumexp(1), [Math.LN2, 1 + Math.LN2], [2], 1e-6, 'logsumexp(1)');
  expectT(tensor([[0, 0], [0, 0]]).logsumexp([0, 1], true), [Math.log(4)], [1, 1], 1e-6, 'logsumexp(all, keepdim)');
  expectT(tensor([[1000, 1000]]).logsumexp(1), [1000 + Math.LN2], [1], 1e-6, 'logsumexp is stable for large values');
});

test('reductions: var/std unbiased vs biased', () => {
  const x = tensor([1, 2, 3, 4]);
  expectT(x.var(), [5 / 3], [], 1e-6, 'var unbiased (default)');
  expectT(x.var(undefined, false), [1.25], [], 1e-6, 'var biased');
  expectT(x.std(), [Math.sqrt(5 / 3)], [], 1e-6, 'std unbiased');
  expectT(x.std(undefined, false), [Math.sqrt(1.25)], [], 1e-6, 'std biased');
  const y = tensor([[1, 3], [2, 6]]);
  expectT(y.var(0), [0.5, 4.5], [2], 1e-6, 'var(0) unbiased');
  expectT(y.var(1, false, true), [1, 4], [2, 1], 1e-6, 'var(1) biased keepdim');
  expectT(y.std(1, true), [Math.SQRT2, Math.sqrt(8)], [2], 1e-6, 'std(1) unbiased');
  expectT(y.var(undefined, true, true), [(1 + 9 + 4 + 36) / 3 - (12 * 12) / 12], [1, 1], 1e-6, 'var(all) keepdim');
});

test('argmax/argmin, maxWithIndices/minWithIndices, topk, sort', () => {
  const x = tensor([[3, 9, 1], [7, 2, 8]]);
  const am = x.argmax(1);
  expectDtype(am, 'int64', 'argmax');
  expectT(am, [1, 2], [2], 0, 'argmax(1)');
  expectT(x.argmax(), [1], [], 0, 'argmax (flattened)');
  expectT(x.argmax(0, true), [1, 0, 1], [1, 3], 0, 'argmax(0, keepdim)');
  expectT(x.argmin(1), [2, 1], [2], 0, 'argmin(1)');
  const [mv, mi] = x.maxWithIndices(1);
  expectT(mv, [9, 8], [2], 0, 'maxWithIndices values');
  expectT(mi, [1, 2], [2], 0, 'maxWithIndices indices');
  const [nv, ni] = x.minWithIndices(0, true);
  expectT(nv, [3, 2, 1], [1, 3], 0, 'minWithIndices values');
  expectT(ni, [0, 1, 0], [1, 3], 0, 'minWithIndices indices');
  const [tv, ti] = x.topk(2);
  expectT(tv, [9, 3, 8, 7], [2, 2], 0, 'topk values');
  expectT(ti, [1, 0, 2, 0], [2, 2], 0, 'topk indices');
  const [sv, si] = x.topk(1, 0, false);
  expectT(sv, [3, 2, 1], [1, 3], 0, 'topk smallest along dim 0 values');
  expectT(si, [0, 1, 0], [1, 3], 0, 'topk smallest indices');
  const [av, ai] = x.sort();
  expectT(av, [1, 3, 9, 2, 7, 8], [2, 3], 0, 'sort ascending values');
  expectT(ai, [2, 0, 1, 1, 0, 2], [2, 3], 0, 'sort ascending indices');
  const [dv, di] = x.sort(0, true);
  expectT(dv, [7, 9, 8, 3, 2, 1], [2, 3], 0, 'sort dim 0 descending values');
  expectT(di, [1, 0, 1, 0, 1, 0], [2, 3], 0, 'sort dim 0 descending indices');
});

test('softmax/logSoftmax: rows sum to 1 and known values', () => {
  const s = tensor([[0, Math.log(3)], [1, 1]]).softmax(1);
  expectT(s, [0.25, 0.75, 0.5, 0.5], [2, 2], 1e-6, 'softmax');
  const r = randn([5, 7]).mul(3).softmax(1).sum(1);
  expectT(r, [1, 1, 1, 1, 1], [5], 1e-5, 'softmax row sums');
  expectT(tensor([[0, 0, 0, 0]]).softmax(-1), [0.25, 0.25, 0.25, 0.25], [1, 4], 1e-6, 'uniform softmax');
  expectT(tensor([[1, 3], [2, 4]]).softmax(0), [0.5, 0.5, 0.5, 0.5].map((_, i) => (i < 2 ? 1 / (1 + Math.E) : Math.E / (1 + Math.E))), [2, 2], 1e-6, 'softmax dim 0');
  expectT(tensor([[0, 0]]).logSoftmax(1), [-Math.LN2, -Math.LN2], [1, 2], 1e-6, 'logSoftmax');
  expectT(tensor([[1000, 0]]).logSoftmax(1), [0, -1000], [1, 2], 1e-6, 'logSoftmax is stable');
  expectT(F.softmax(tensor([1, 1]), 0), [0.5, 0.5], [2], 1e-6, 'F.softmax');
  expectT(F.logSoftmax(tensor([1, 1]), 0), [-Math.LN2, -Math.LN2], [2], 1e-6, 'F.logSoftmax');
});

// ------------------------------------------------------------------ shape and indexing
test('shape ops: reshape/view/permute/transpose/flatten/squeeze/unsqueeze/expand/repeat/flip', () => {
  const x = arange(6).reshape(2, 3); // [[0,1,2],[3,4,5]]
  expectT(x.reshape([3, 2]), [0, 1, 2, 3, 4, 5], [3, 2], 0, 'reshape');
  expectT(x.reshape(-1), [0, 1, 2, 3, 4, 5], [6], 0, 'reshape -1');
  expectT(x.view(3, -1), [0, 1, 2, 3, 4, 5], [3, 2], 0, 'view');
  expectT(x.transpose(0, 1), [0, 3, 1, 4, 2, 5], [3, 2], 0, 'transpose');
  expectT(x.permute(1, 0).contiguous().view(6), [0, 3, 1, 4, 2, 5], [6], 0, 'permute + contiguous + view');
  expectT(arange(24).reshape(2, 3, 4).permute([2, 0, 1]).select(0, 1), [1, 5, 9, 13, 17, 21], [2, 3], 0, 'permute 3-D');
  expectT(arange(8).reshape(2, 2, 2).flatten(1), [0, 1, 2, 3, 4, 5, 6, 7], [2, 4], 0, 'flatten(1)');
  expectT(zeros([1, 3, 1, 2]).squeeze(), new Array(6).fill(0), [3, 2], 0, 'squeeze');
  expectT(zeros([1, 3, 1]).squeeze(2), [0, 0, 0], [1, 3], 0, 'squeeze(2)');
  expectT(x.unsqueeze(0), [0, 1, 2, 3, 4, 5], [1, 2, 3], 0, 'unsqueeze(0)');
  expectT(x.unsqueeze(-1), [0, 1, 2, 3, 4, 5], [2, 3, 1], 0, 'unsqueeze(-1)');
  expectT(tensor([[1], [2]]).expand(2, 3), [1, 1, 1, 2, 2, 2], [2, 3], 0, 'expand');
  expectT(tensor([1, 2]).repeat(2, 2), [1, 2, 1, 2, 1, 2, 1, 2], [2, 4], 0, 'repeat');
  expectT(x.flip([1]), [2, 1, 0, 5, 4, 3], [2, 3], 0, 'flip(1)');
  expectT(x.flip([0, 1]), [5, 4, 3, 2, 1, 0], [2, 3], 0, 'flip(0,1)');
});

test('indexing: narrow/slice/select/indexSelect/maskedSelect/gather/nonzero/split', () => {
  const x = arange(12).reshape(3, 4);
  expectT(x.narrow(1, 1, 2), [1, 2, 5, 6, 9, 10], [3, 2], 0, 'narrow');
  expectT(x.slice(1, 0, 4, 2), [0, 2, 4, 6, 8, 10], [3, 2], 0, 'slice step 2');
  expectT(x.slice(0, 1), [4, 5, 6, 7, 8, 9, 10, 11], [2, 4], 0, 'slice default end');
  expectT(arange(10).slice(0, 1, undefined, 3), [1, 4, 7], [3], 0, 'slice step 3');
  expectT(x.select(0, 2), [8, 9, 10, 11], [4], 0, 'select row');
  expectT(x.select(1, -1), [3, 7, 11], [3], 0, 'select negative index');
  expectT(x.indexSelect(0, tensor([2, 0], undefined, 'int64')), [8, 9, 10, 11, 0, 1, 2, 3], [2, 4], 0, 'indexSelect rows');
  expectT(x.indexSelect(1, tensor([3, 3], undefined, 'int32')), [3, 3, 7, 7, 11, 11], [3, 2], 0, 'indexSelect int32 index');
  expectT(x.maskedSelect(x.gt(8)), [9, 10, 11], [3], 0, 'maskedSelect');
  expectT(tensor([[1, 2], [3, 4]]).gather(1, i64([[1, 0], [0, 0]])), [2, 1, 3, 3], [2, 2], 0, 'gather');
  expectT(tensor([0, 3, 0, 5]).nonzero(), [1, 3], [2, 1], 0, 'nonzero');
  const parts = arange(5).split(2);
  assert.deepEqual(parts.map((p) => p.shape), [[2], [2], [1]], 'split sizes');
  expectT(parts[2], [4], [1], 0, 'last split');
});

test('cat/stack/where/pad/oneHot', () => {
  const a = tensor([[1, 2]]);
  const b = tensor([[3, 4], [5, 6]]);
  expectT(cat([a, b]), [1, 2, 3, 4, 5, 6], [3, 2], 0, 'cat dim 0');
  expectT(cat([b, b], 1), [3, 4, 3, 4, 5, 6, 5, 6], [2, 4], 0, 'cat dim 1');
  expectT(stack([tensor([1, 2]), tensor([3, 4])]), [1, 2, 3, 4], [2, 2], 0, 'stack dim 0');
  expectT(stack([tensor([1, 2]), tensor([3, 4])], 1), [1, 3, 2, 4], [2, 2], 0, 'stack dim 1');
  const c = tensor([1, 0, 1], undefined, 'bool');
  expectT(where(c, tensor([1, 2, 3]), tensor([-1, -2, -3])), [1, -2, 3], [3], 0, 'where');
  expectT(where(c, tensor([1, 2, 3]), 0), [1, 0, 3], [3], 0, 'where scalar');
  expectT(F.pad(tensor([[1, 2]]), [1, 2]), [0, 1, 2, 0, 0], [1, 5], 0, 'pad last dim');
  expectT(F.pad(tensor([[1]]), [0, 1, 1, 0], 9), [9, 9, 1, 9], [2, 2], 0, 'pad two dims with value');
  const oh = F.oneHot(i64([0, 2, 1]), 3);
  expectDtype(oh, 'int64', 'oneHot');
  expectT(oh, [1, 0, 0, 0, 0, 1, 0, 1, 0], [3, 3], 0, 'oneHot');
});

test('in-place updates', () => {
  noGrad(() => {
    const t = tensor([1, 2, 3]);
    t.add_(1);
    expectT(t, [2, 3, 4], [3], 0, 'add_');
    t.add_(tensor([1, 1, 1]), 0.5);
    expectT(t, [2.5, 3.5, 4.5], [3], 0, 'add_ alpha');
    t.sub_(tensor([1, 2, 3]), 2);
    expectT(t, [0.5, -0.5, -1.5], [3], 0, 'sub_ alpha');
    t.mul_(2);
    expectT(t, [1, -1, -3], [3], 0, 'mul_');
    t.div_(tensor([1, -1, 3]));
    expectT(t, [1, 1, -1], [3], 0, 'div_');
    t.addcmul_(tensor([1, 2, 3]), tensor([2, 2, 2]), 0.5);
    expectT(t, [2, 3, 2], [3], 0, 'addcmul_');
    t.addcdiv_(tensor([4, 4, 4]), tensor([2, 4, 8]), 2);
    expectT(t, [6, 5, 3], [3], 0, 'addcdiv_');
    t.clamp_(3.5, 5.5);
    expectT(t, [5.5, 5, 3.5], [3], 0, 'clamp_');
    t.copy_(tensor([7, 8, 9]));
    expectT(t, [7, 8, 9], [3], 0, 'copy_');
    t.fill_(4);
    expectT(t, [4, 4, 4], [3], 0, 'fill_');
    t.zero_();
    expectT(t, [0, 0, 0], [3], 0, 'zero_');
    const n = arange(3);
    n.add_(2);
    expectT(n, [2, 3, 4], [3], 0, 'int64 add_');
    n.sub_(1);
    expectT(n, [1, 2, 3], [3], 0, 'int64 sub_');
    manualSeed(5);
    const u = zeros([1000]).uniform_(2, 3);
    assert.ok(u.min().item() >= 2 && u.max().item() < 3, `uniform_(2,3) range: got [${u.min().item()}, ${u.max().item()}]`);
    const g = zeros([4000]).normal_(1, 2);
    near(g.mean().item(), 1, 0.15, 'normal_(1,2) mean');
    near(g.std().item(), 2, 0.1, 'normal_(1,2) std');
  });
});

// ------------------------------------------------------------------ layers
test('conv2d on a 1x1x3x3 input with known kernels', () => {
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const w = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
  expectT(F.conv2d(x, w), [37, 47, 67, 77], [1, 1, 2, 2], 1e-6, 'conv2d 2x2 kernel');
  expectT(F.conv2d(x, w, tensor([1])), [38, 48, 68, 78], [1, 1, 2, 2], 1e-6, 'conv2d with bias');
  const ones3 = ones([1, 1, 3, 3]);
  expectT(F.conv2d(x, ones3, undefined, { padding: 1 }), [12, 21, 16, 27, 45, 33, 24, 39, 28], [1, 1, 3, 3], 1e-6, 'conv2d 3x3 ones, padding 1');
  expectT(F.conv2d(x, ones3, undefined, { padding: 1, stride: 2 }), [12, 16, 24, 28], [1, 1, 2, 2], 1e-6, 'conv2d stride 2 padding 1');
  expectT(F.conv2d(x, tensor([1, -1], [1, 1, 1, 2]), undefined, { dilation: 2 }), [-2, -2, -2], [1, 1, 3, 1], 1e-6, 'conv2d dilation 2');
  // groups 2: each output channel sees only its own input channel
  const x2 = cat([x, x.mul(10)], 1);
  const wg = tensor([1, 1, 1, 1, 1, 1, 1, 1], [2, 1, 2, 2]);
  expectT(F.conv2d(x2, wg, undefined, { groups: 2 }), [12, 16, 24, 28, 120, 160, 240, 280], [1, 2, 2, 2], 1e-6, 'conv2d groups 2');
});

test('pooling: maxPool2d/avgPool2d/adaptiveAvgPool2d known values', () => {
  const x = arange(16, undefined, 1, 'float32').reshape(1, 1, 4, 4);
  expectT(F.maxPool2d(x, 2), [5, 7, 13, 15], [1, 1, 2, 2], 0, 'maxPool2d 2');
  expectT(F.avgPool2d(x, 2), [2.5, 4.5, 10.5, 12.5], [1, 1, 2, 2], 1e-6, 'avgPool2d 2');
  expectT(F.maxPool2d(x, 3, 1), [10, 11, 14, 15], [1, 1, 2, 2], 0, 'maxPool2d 3 stride 1');
  expectT(F.maxPool2d(x, 2, 2, 1), [0, 2, 3, 8, 10, 11, 12, 14, 15], [1, 1, 3, 3], 0, 'maxPool2d padding 1');
  // count_include_pad: padded zeros count in the average
  expectT(F.avgPool2d(x, 2, 2, 1), [0, 0.75, 0.75, 3, 7.5, 4.5, 3, 6.75, 3.75], [1, 1, 3, 3], 1e-6, 'avgPool2d padding 1 (count_include_pad)');
  expectT(F.adaptiveAvgPool2d(x, 1), [7.5], [1, 1, 1, 1], 1e-6, 'adaptiveAvgPool2d 1');
  expectT(F.adaptiveAvgPool2d(x, [2, 2]), [2.5, 4.5, 10.5, 12.5], [1, 1, 2, 2], 1e-6, 'adaptiveAvgPool2d 2x2');
});

test('interpolate: nearest 2x2 -> 4x4 layout and bilinear values', () => {
  const x = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
  const nearest = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
  expectT(F.interpolate(x, { size: [4, 4] }), nearest, [1, 1, 4, 4], 0, 'nearest size 4x4');
  expectT(F.interpolate(x, { scaleFactor: 2, mode: 'nearest' }), nearest, [1, 1, 4, 4], 0, 'nearest scaleFactor 2');
  expectT(F.interpolate(x, { size: [3, 3], mode: 'bilinear', alignCorners: true }), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], [1, 1, 3, 3], 1e-6, 'bilinear alignCorners true');
  expectT(
    F.interpolate(x, { size: [4, 4], mode: 'bilinear', alignCorners: false }),
    [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4],
    [1, 1, 4, 4],
    1e-6,
    'bilinear alignCorners false',
  );
  expectT(F.interpolate(x, { size: [2, 2], mode: 'bilinear' }), [1, 2, 3, 4], [1, 1, 2, 2], 1e-6, 'bilinear same size is identity');
});

test('batchNorm: training uses batch stats and updates running stats (unbiased var); eval uses them', () => {
  // N=4, C=2: channel 0 = [1,2,3,4] (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 = [2,4,6,8] (mean 5, var 5, 20/3)
  const x = tensor([[1, 2], [2, 4], [3, 6], [4, 8]]);
  const rm = tensor([0, 0]);
  const rv = tensor([1, 1]);
  const w = tensor([2, 1]);
  const b = tensor([0.5, -1]);
  const eps = 1e-5;
  const m = 0.1;
  const y = F.batchNorm(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, momentum: m, eps });
  const exp: number[] = [];
  for (let n = 0; n < 4; n++) {
    exp.push(((n + 1 - 2.5) / Math.sqrt(1.25 + eps)) * 2 + 0.5);
    exp.push((((n + 1) * 2 - 5) / Math.sqrt(5 + eps)) * 1 - 1);
  }
  expectT(y, exp, [4, 2], 1e-5, 'batchNorm training output (normalised with the biased batch variance)');
  expectT(rm, [(1 - m) * 0 + m * 2.5, (1 - m) * 0 + m * 5], [2], 1e-6, 'running_mean = (1-m)*rm + m*mean');
  expectT(rv, [(1 - m) * 1 + m * (5 / 3), (1 - m) * 1 + m * (20 / 3)], [2], 1e-6, 'running_var = (1-m)*rv + m*unbiased var');
  // second step accumulates
  F.batchNorm(x, { runningMean: rm, runningVar: rv, training: true, momentum: m });
  expectT(rm, [0.9 * 0.25 + 0.25, 0.9 * 0.5 + 0.5], [2], 1e-6, 'running_mean after two steps');
  // eval mode: uses running stats and leaves them unchanged
  const rmv = Array.from(rm.toFloat64Array());
  const rvv = Array.from(rv.toFloat64Array());
  const ye = F.batchNorm(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, eps });
  const expE: number[] = [];
  for (let n = 0; n < 4; n++) {
    for (let c = 0; c < 2; c++) {
      const v = (n + 1) * (c + 1);
      expE.push(((v - rmv[c]) / Math.sqrt(rvv[c] + eps)) * [2, 1][c] + [0.5, -1][c]);
    }
  }
  expectT(ye, expE, [4, 2], 1e-5, 'batchNorm eval output');
  expectT(rm, rmv, [2], 0, 'eval leaves running_mean unchanged');
  expectT(rv, rvv, [2], 0, 'eval leaves running_var unchanged');
  // NCHW: statistics over N, H, W per channel
  const x4 = tensor([1, 3, 5, 7, 10, 10, 10, 10], [2, 1, 2, 2]);
  const y4 = F.batchNorm(x4, { training: true, eps: 0 });
  const mean4 = 7;
  const var4 = [1, 3, 5, 7, 10, 10, 10, 10].reduce((s, v) => s + (v - mean4) ** 2, 0) / 8;
  expectT(y4, [1, 3, 5, 7, 10, 10, 10, 10].map((v) => (v - mean4) / Math.sqrt(var4)), [2, 1, 2, 2], 1e-5, 'batchNorm NCHW');
});

test('dropout: eval is identity, p=0 is identity, training zeroes about p and rescales', () => {
  const x = ones([2000]);
  expectT(F.dropout(x, 0.5, false), new Array(2000).fill(1), [2000], 0, 'dropout eval');
  expectT(F.dropout(x, 0, true), new Array(2000).fill(1), [2000], 0, 'dropout p=0');
  manualSeed(1);
  const y = Array.from(F.dropout(x, 0.25, true).toFloat64Array());
  const dropped = y.filter((v) => v === 0).length;
  assert.ok(dropped > 400 && dropped < 600, `dropout p=0.25: expected ~500 of 2000 dropped, got ${dropped}`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6), 'kept units should be scaled by 1/(1-p) = 4/3');
});

// ------------------------------------------------------------------ losses
test('crossEntropy known values', () => {
  near(F.crossEntropy(tensor([[0, 0]]), i64([0])).item(), Math.LN2, 1e-6, 'CE logits [0,0] target 0');
  const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  near(F.crossEntropy(tensor([[1, 2, 3]]), i64([2])).item(), lse - 3, 1e-6, 'CE logits [1,2,3] target 2');
  const z = tensor([[1, 2, 3], [0, 0, 0]]);
  const l0 = lse - 1;
  const l1 = Math.log(3);
  near(F.crossEntropy(z, i64([0, 1])).item(), (l0 + l1) / 2, 1e-6, 'CE mean');
  near(F.crossEntropy(z, i64([0, 1]), { reduction: 'sum' }).item(), l0 + l1, 1e-6, 'CE sum');
  expectT(F.crossEntropy(z, i64([0, 1]), { reduction: 'none' }), [l0, l1], [2], 1e-6, 'CE none');
  near(F.crossEntropy(z, tensor([0, 1], undefined, 'int32')).item(), (l0 + l1) / 2, 1e-6, 'CE int32 targets');
  // probability targets: -sum p log softmax(z)
  const p = tensor([[0.5, 0, 0.5], [0.2, 0.3, 0.5]]);
  const ls = [[1 - lse, 2 - lse, 3 - lse], [-l1, -l1, -l1]];
  const pv = [[0.5, 0, 0.5], [0.2, 0.3, 0.5]];
  const ceP = pv.map((row, n) => -row.reduce((s, q, c) => s + q * ls[n][c], 0));
  near(F.crossEntropy(z, p).item(), (ceP[0] + ceP[1]) / 2, 1e-6, 'CE probability targets');
  // label smoothing e: (1-e) * nll + e * mean_c(-log p_c)
  const e = 0.1;
  const smooth0 = (1 - e) * l0 + (e * -(ls[0][0] + ls[0][1] + ls[0][2])) / 3;
  const smooth1 = (1 - e) * l1 + (e * 3 * l1) / 3;
  near(F.crossEntropy(z, i64([0, 1]), { labelSmoothing: e }).item(), (smooth0 + smooth1) / 2, 1e-6, 'CE label smoothing 0.1');
});

test('nllLoss, klDiv, l1Loss, mseLoss known values', () => {
  const lp = tensor([[-1, -2, -3], [-0.5, -1.5, -2.5]]);
  near(F.nllLoss(lp, i64([1, 2])).item(), (2 + 2.5) / 2, 1e-6, 'nllLoss mean');
  near(F.nllLoss(lp, i64([1, 2]), 'sum').item(), 4.5, 1e-6, 'nllLoss sum');
  expectT(F.nllLoss(lp, i64([0, 0]), 'none'), [1, 0.5], [2], 1e-6, 'nllLoss none');
  // KL(p || q) with p = [0.5, 0.5], q = [0.25, 0.75]
  const kl = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
  const logq = tensor([[Math.log(0.25), Math.log(0.75)]]);
  const pT = tensor([[0.5, 0.5]]);
  near(F.klDiv(logq, pT).item(), kl, 1e-6, 'klDiv batchmean N=1');
  near(F.klDiv(logq, pT.log(), { logTarget: true }).item(), kl, 1e-6, 'klDiv logTarget');
  const logq2 = cat([logq, tensor([[Math.log(0.5), Math.log(0.5)]])]);
  const p2 = cat([pT, pT]);
  near(F.klDiv(logq2, p2).item(), kl / 2, 1e-6, 'klDiv batchmean divides the sum by N=2');
  near(F.klDiv(logq2, p2, { reduction: 'sum' }).item(), kl, 1e-6, 'klDiv sum');
  near(F.klDiv(logq2, p2, { reduction: 'mean' }).item(), kl / 4, 1e-6, 'klDiv mean (over all elements)');
  expectT(F.klDiv(logq, pT, { reduction: 'none' }), [0.5 * Math.log(2), 0.5 * Math.log(2 / 3)], [1, 2], 1e-6, 'klDiv none');
  near(F.klDiv(tensor([[Math.log(0.3), Math.log(0.7)]]), tensor([[0.3, 0.7]])).item(), 0, 1e-6, 'klDiv of identical distributions');
  const a = tensor([1, 2, 3, 4]);
  const bb = tensor([2, 2, 5, 0]);
  near(F.l1Loss(a, bb).item(), (1 + 0 + 2 + 4) / 4, 1e-6, 'l1Loss mean');
  near(F.l1Loss(a, bb, 'sum').item(), 7, 1e-6, 'l1Loss sum');
  expectT(F.l1Loss(a, bb, 'none'), [1, 0, 2, 4], [4], 0, 'l1Loss none');
  near(F.mseLoss(a, bb).item(), (1 + 0 + 4 + 16) / 4, 1e-6, 'mseLoss mean');
  near(F.mseLoss(a, bb, 'sum').item(), 21, 1e-6, 'mseLoss sum');
  expectT(F.mseLoss(a, bb, 'none'), [1, 0, 4, 16], [4], 0, 'mseLoss none');
});

test('F.linear known values', () => {
  const x = tensor([[1, 2], [3, 4]]);
  const w = tensor([[1, 0], [1, 1], [0, -1]]);
  expectT(F.linear(x, w), [1, 3, -2, 3, 7, -4], [2, 3], 0, 'linear without bias');
  expectT(F.linear(x, w, tensor([1, 2, 3])), [2, 5, 1, 4, 9, -1], [2, 3], 0, 'linear with bias');
});

// ------------------------------------------------------------------ creation and conversion
test('creation: zeros/ones/full/arange/tensor from nested and typed arrays', () => {
  const z = zeros([2, 3]);
  expectDtype(z, 'float32', 'zeros default');
  expectT(z, new Array(6).fill(0), [2, 3], 0, 'zeros');
  expectDtype(zeros([2], 'int64'), 'int64', 'zeros int64');
  expectT(ones([3], 'float64'), [1, 1, 1], [3], 0, 'ones float64');
  expectDtype(ones([3], 'float64'), 'float64', 'ones float64');
  expectT(full([2, 2], 7.5), [7.5, 7.5, 7.5, 7.5], [2, 2], 0, 'full');
  expectDtype(full([1], 3, 'int32'), 'int32', 'full int32');
  expectT(zeros([0, 3]), [], [0, 3], 0, 'empty zeros');
  expectT(arange(5), [0, 1, 2, 3, 4], [5], 0, 'arange(5)');
  expectDtype(arange(5), 'int64', 'arange integer args');
  expectT(arange(2, 8, 2), [2, 4, 6], [3], 0, 'arange(2,8,2)');
  expectT(arange(0, 2, 0.5), [0, 0.5, 1, 1.5], [4], 0, 'arange fractional step');
  expectDtype(arange(0, 2, 0.5), 'float32', 'arange fractional step');
  expectDtype(arange(3, undefined, 1, 'float64'), 'float64', 'arange dtype');
  const n = tensor([[1, 2, 3], [4, 5, 6]]);
  expectDtype(n, 'float32', 'tensor from nested array');
  expectT(n, [1, 2, 3, 4, 5, 6], [2, 3], 0, 'tensor from nested array');
  expectT(tensor([[[1], [2]], [[3], [4]]]), [1, 2, 3, 4], [2, 2, 1], 0, 'tensor from 3-deep nested array');
  expectT(tensor([1, 2, 3, 4], [2, 2]), [1, 2, 3, 4], [2, 2], 0, 'tensor with explicit shape');
  expectDtype(tensor(new Float64Array([0.1, 0.2])), 'float64', 'Float64Array');
  near(tensor(new Float64Array([0.1])).item(), 0.1, 0, 'Float64Array keeps double precision');
  expectDtype(tensor(new Int32Array([1, 2])), 'int32', 'Int32Array');
  expectDtype(tensor(new BigInt64Array([1n, 2n])), 'int64', 'BigInt64Array');
  expectDtype(tensor(new Uint8Array([1, 255])), 'uint8', 'Uint8Array');
  expectT(tensor(new Uint8Array([1, 255])), [1, 255], [2], 0, 'Uint8Array values');
  expectDtype(tensor(new Float32Array([1, 2]), [2], 'float64'), 'float64', 'typed array with dtype');
  expectDtype(tensor([1, 0, 1], undefined, 'bool'), 'bool', 'bool from plain array');
  expectDtype(tensor([3, 4], undefined, 'int64'), 'int64', 'int64 from plain array');
  expectT(tensor([3, -4], undefined, 'int64'), [3, -4], [2], 0, 'int64 from plain array');
  assert.deepEqual(Array.from(tensor([2 ** 31, 2 ** 40, -(2 ** 33)], undefined, 'int64').toArray() as BigInt64Array), [2n ** 31n, 2n ** 40n, -(2n ** 33n)], 'int64 from plain array beyond the int32 range');
  expectDtype(zerosLike(tensor([1], undefined, 'float64')), 'float64', 'zerosLike');
  expectT(onesLike(zeros([2, 1])), [1, 1], [2, 1], 0, 'onesLike');
  assert.deepEqual(randnLike(zeros([3, 2])).shape, [3, 2], 'randnLike shape');
  assert.equal(zeros([2]).device, 'cpu', 'default device');
  const subarr = new Float32Array([9, 1, 2, 9]).subarray(1, 3);
  expectT(tensor(subarr), [1, 2], [2], 0, 'typed-array view with a byte offset');
});

test('random creation: rand range, randint range, randperm is a permutation', () => {
  manualSeed(11);
  const r = rand([1000]);
  assert.ok(r.min().item() >= 0 && r.max().item() < 1, `rand range: [${r.min().item()}, ${r.max().item()}]`);
  near(r.mean().item(), 0.5, 0.06, 'rand mean');
  const ri = randint(3, 7, [500]);
  expectDtype(ri, 'int64', 'randint');
  const vals = new Set(Array.from(ri.toInt32Array()));
  assert.deepEqual([...vals].sort(), [3, 4, 5, 6], 'randint(3,7) values');
  const p = Array.from(randperm(20).toInt32Array());
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'randperm(20) is a permutation');
  const g = randn([5000], 'float64');
  expectDtype(g, 'float64', 'randn float64');
  near(g.mean().item(), 0, 0.05, 'randn mean');
  near(g.std().item(), 1, 0.05, 'randn std');
});

test('dtype conversions and data out', () => {
  const x = tensor([1.7, -1.7, 0, 2.5]);
  const l = x.to('int64');
  expectDtype(l, 'int64', 'to int64');
  expectT(l, [1, -1, 0, 2], [4], 0, 'float -> int64 truncates toward zero');
  expectDtype(x.long(), 'int64', 'long()');
  expectT(x.to('bool'), [1, 1, 0, 1], [4], 0, 'to bool');
  expectDtype(x.to({ dtype: 'float64' }), 'float64', 'to({dtype})');
  expectDtype(tensor([1], undefined, 'int32').float(), 'float32', 'float()');
  expectT(tensor([300, -1], undefined, 'int32').to('uint8'), [44, 255], [2], 0, 'int32 -> uint8 wraps');
  const i = tensor([5, -6, 7], undefined, 'int64');
  const ai = i.toInt32Array();
  assert.ok(ai instanceof Int32Array, 'toInt32Array returns an Int32Array');
  assert.deepEqual(Array.from(ai), [5, -6, 7], 'toInt32Array on int64');
  assert.ok(i.toArray() instanceof BigInt64Array, 'int64 toArray gives a BigInt64Array');
  assert.deepEqual(Array.from(i.toArray() as BigInt64Array), [5n, -6n, 7n], 'int64 toArray values');
  assert.ok(tensor([1]).toArray() instanceof Float32Array, 'float32 toArray gives a Float32Array');
  assert.ok(tensor([1], undefined, 'float64').toArray() instanceof Float64Array, 'float64 toArray gives a Float64Array');
  assert.ok(tensor([1], undefined, 'int32').toArray() instanceof Int32Array, 'int32 toArray gives an Int32Array');
  assert.ok(tensor([1, 0], undefined, 'bool').toArray() instanceof Uint8Array, 'bool toArray gives a Uint8Array');
  assert.deepEqual(Array.from(tensor([0.5, 1.5]).toFloat64Array()), [0.5, 1.5], 'toFloat64Array on float32');
  assert.deepEqual(Array.from(tensor([1, 2], undefined, 'int64').toFloat32Array()), [1, 2], 'toFloat32Array on int64');
  // toArray of a non-contiguous view gives the logical order
  assert.deepEqual(Array.from(arange(6).reshape(2, 3).transpose(0, 1).toInt32Array()), [0, 3, 1, 4, 2, 5], 'toArray of a transposed view');
  assert.equal(tensor([2.5]).item(), 2.5, 'item float32');
  assert.equal(tensor([[7]], undefined, 'int64').item(), 7, 'item of [1,1] int64');
  assert.equal(tensor([1, 0], undefined, 'bool').all(), false, 'all of bool');
  assert.equal(arange(3).sum().item(), 3, 'item of a 0-d int64 sum');
  assert.equal(tensor([1, 2]).toString(), 'Tensor(shape=[2], dtype=float32, device=cpu)', 'toString');
  assert.equal(zeros([2, 3, 4]).ndim, 3, 'ndim');
  assert.equal(zeros([2, 3, 4]).size, 24, 'size');
});

test('equal(): shape, dtype and values', () => {
  assert.equal(tensor([1, 2, 3]).equal(tensor([1, 2, 3])), true, 'same values');
  assert.equal(tensor([1, 2, 3]).equal(tensor([1, 2, 4])), false, 'different value');
  assert.equal(tensor([1, 2]).equal(tensor([1, 2], undefined, 'float64')), false, 'different dtype');
  assert.equal(tensor([1, 2, 3, 4]).equal(tensor([1, 2, 3, 4], [2, 2])), false, 'different shape');
  assert.equal(arange(4).reshape(2, 2).transpose(0, 1).equal(tensor([0, 2, 1, 3], [2, 2], 'int64')), true, 'non-contiguous view');
});

// ------------------------------------------------------------------ runtime
test('seeded randomness: manualSeed repeats draws; getRngState/setRngState restores the stream', () => {
  manualSeed(3);
  const a = randn([4, 5]);
  const a2 = rand([3]);
  manualSeed(3);
  const b = randn([4, 5]);
  const b2 = rand([3]);
  assert.ok(a.equal(b), `randn after manualSeed(3) differs:\n  ${Array.from(a.toFloat32Array())}\n  ${Array.from(b.toFloat32Array())}`);
  assert.ok(a2.equal(b2), 'the stream after the first draw also repeats');
  manualSeed(4);
  assert.ok(!randn([4, 5]).equal(a), 'a different seed gives different draws');

  manualSeed(9);
  randn([7]);
  const state = getRngState();
  assert.ok(state instanceof Uint8Array && state.length > 0, `getRngState returns bytes, got ${state.constructor.name}(${state.length})`);
  const c1 = randn([10]);
  const c2 = randint(0, 1000, [10]);
  const c3 = randperm(10);
  randn([123]); // advance further
  setRngState(state);
  const d1 = randn([10]);
  const d2 = randint(0, 1000, [10]);
  const d3 = randperm(10);
  assert.ok(c1.equal(d1), `randn after setRngState: expected ${Array.from(c1.toFloat32Array())}, got ${Array.from(d1.toFloat32Array())}`);
  assert.ok(c2.equal(d2), 'randint after setRngState');
  assert.ok(c3.equal(d3), 'randperm after setRngState');
  assert.deepEqual(getRngState(), getRngState(), 'reading the state does not advance it');
});

test('setNumThreads/getNumThreads', () => {
  const before = getNumThreads();
  assert.ok(Number.isInteger(before) && before >= 1, `getNumThreads: expected a positive integer, got ${before}`);
  try {
    setNumThreads(1);
    assert.equal(getNumThreads(), 1, 'after setNumThreads(1)');
    assert.equal(engineInfo().numThreads, 1, 'engineInfo().numThreads after setNumThreads(1)');
  } finally {
    setNumThreads(before);
  }
  assert.equal(getNumThreads(), before, 'restored thread count');
  assert.throws(() => setNumThreads(0), /positive integer/);
  assert.throws(() => setNumThreads(1.5), /positive integer/);
});

test('engineInfo: torch 1.13.x, CPU build (any version for a CUDA build: docs/gpu.md)', () => {
  const info = engineInfo();
  if (info.builtWithCuda) assert.match(info.torchVersion, /^\d+\.\d+\.\d+/, `torchVersion: got ${info.torchVersion}`);
  else assert.match(info.torchVersion, /^1\.13\.\d+/, `torchVersion: expected 1.13.x, got ${info.torchVersion}`);
  assert.equal(typeof info.cuda, 'boolean');
  assert.equal(typeof info.builtWithCuda, 'boolean');
  assert.equal(cudaAvailable(), info.cuda, 'cudaAvailable() agrees with engineInfo().cuda');
  if (!info.cuda) assert.equal(info.cudaDeviceCount, 0, 'no CUDA devices on a CPU build');
});

test('gradient mode: noGrad/enableGrad/isGradEnabled', () => {
  assert.equal(isGradEnabled(), true, 'grad enabled by default');
  const x = tensor([1, 2]).requiresGrad_();
  const y = noGrad(() => {
    assert.equal(isGradEnabled(), false, 'inside noGrad');
    const inner = enableGrad(() => {
      assert.equal(isGradEnabled(), true, 'enableGrad inside noGrad');
      return x.mul(2);
    });
    assert.equal(inner.requiresGrad, true, 'computed under enableGrad records history');
    return x.mul(2);
  });
  assert.equal(y.requiresGrad, false, 'computed under noGrad: no history');
  assert.equal(isGradEnabled(), true, 'restored after noGrad');
  assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
  assert.equal(isGradEnabled(), true, 'restored after an exception inside noGrad');
  assert.equal(x.isLeaf, true, 'a created tensor is a leaf');
  assert.equal(x.mul(2).isLeaf, false, 'a computed tensor is not a leaf');
});

test('autograd basics: backward, grad accumulation, zeroGrad, retainGraph, explicit gradient', () => {
  const x = tensor([1, 2, 3], undefined, 'float64').requiresGrad_();
  x.pow(2).sum().backward();
  expectT(x.grad!, [2, 4, 6], [3], 0, 'd/dx sum(x^2)');
  x.mul(3).sum().backward();
  expectT(x.grad!, [5, 7, 9], [3], 0, 'gradients accumulate');
  x.zeroGrad();
  assert.equal(x.grad, undefined, 'zeroGrad clears the gradient');
  const y = x.mul(x);
  y.backward(tensor([1, 0, -1], undefined, 'float64'), true);
  expectT(x.grad!, [2, 0, -6], [3], 0, 'backward with an explicit gradient');
  y.backward(tensor([1, 1, 1], undefined, 'float64'));
  expectT(x.grad!, [4, 4, 0], [3], 0, 'second backward through a retained graph');
  assert.throws(() => y.backward(tensor([1, 1, 1], undefined, 'float64')), /backward/, 'a freed graph cannot be reused');
  const d = x.detach();
  assert.equal(d.requiresGrad, false, 'detach() drops requiresGrad');
  tidy(() => {
    x.requiresGrad = false;
    assert.equal(x.requiresGrad, false, 'requiresGrad setter');
  });
});

/**
 * Bad input to the engine gives a clear JS exception (checked by message), never a process crash.
 * Every assertion here runs in-process: a native abort would fail the whole file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, DType, Device, F, tensor, zeros, ones, full, randn, arange, cat, stack, tidy, manualSeed, cudaAvailable } from '../src/tensor';

/** assert.throws that also demands a real Error instance and reports the message it got. */
function throwsMsg(fn: () => unknown, re: RegExp, what: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `${what}: expected an error matching ${re}, but nothing was thrown`);
  assert.ok(caught instanceof Error, `${what}: expected an Error instance, got ${typeof caught}: ${String(caught)}`);
  assert.match((caught as Error).message, re, `${what}: message ${JSON.stringify((caught as Error).message)} does not match ${re}`);
}

test('matmul shape mismatch names the op and both shapes', () => {
  throwsMsg(() => zeros([2, 3]).matmul(zeros([4, 5])), /^matmul: .*\[2,3\].*\[4,5\]/, 'matmul 2-D');
  throwsMsg(() => zeros([2, 2, 3]).matmul(zeros([2, 4, 5])), /^matmul: .*\[2,2,3\].*\[2,4,5\]/, 'matmul batched');
  throwsMsg(() => F.linear(zeros([2, 3]), zeros([4, 5])), /^linear: .*\[2,3\].*\[4,5\]/, 'linear');
});

test('conv2d: channel mismatch and wrong rank', () => {
  throwsMsg(() => F.conv2d(zeros([1, 3, 5, 5]), zeros([2, 4, 3, 3])), /^conv2d: .*4 channels, but got 3 channels/, 'conv2d channels');
  throwsMsg(() => F.conv2d(zeros([3, 5, 5]), zeros([2, 3, 3, 3])), /conv2d: input must have 4 dimensions, got shape \[3,5,5\]/, 'conv2d 3-D input');
  throwsMsg(() => F.conv2d(zeros([1, 4, 5, 5]), zeros([2, 4, 3, 3]), undefined, { groups: 3 }), /^conv2d: Given groups=3/, 'conv2d groups not dividing channels');
  throwsMsg(() => F.conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3])), /^conv2d: .*Kernel size can't be greater than actual input size/, 'conv2d kernel larger than input');
  throwsMsg(() => F.maxPool2d(zeros([1, 1, 4]), 2), /maxPool2d: input must have 4 dimensions/, 'maxPool2d rank');
  throwsMsg(() => F.interpolate(zeros([1, 1, 2, 2]), {}), /interpolate: give size or scaleFactor/, 'interpolate without size');
});

test('wrong dtypes: crossEntropy targets, indexSelect/gather index, requiresGrad on ints', () => {
  throwsMsg(() => F.crossEntropy(zeros([4, 3]), zeros([5])), /^crossEntropy: .*batch_size.*\(input shapes: \[4,3\] float32, \[5\] float32\)/, 'CE float targets of the wrong shape');
  throwsMsg(() => F.crossEntropy(zeros([4, 3]), zeros([4])), /^crossEntropy: .*(Long|int64).*(Float|float32)/, 'CE float class targets');
  throwsMsg(() => F.crossEntropy(zeros([4, 3]), zeros([4, 2])), /^crossEntropy: .*\(input shapes: \[4,3\] float32, \[4,2\] float32\)/, 'CE probability targets of the wrong width');
  throwsMsg(() => F.nllLoss(zeros([2, 3]), zeros([2])), /^nllLoss: .*(Long|int64)/, 'nllLoss float targets');
  throwsMsg(() => zeros([4, 3]).indexSelect(0, tensor([1])), /^indexSelect: .*int32 or int64 for index/, 'indexSelect float index');
  throwsMsg(() => zeros([2, 3]).gather(1, zeros([2, 1])), /^gather: .*Expected dtype int64 for index/, 'gather float index');
  throwsMsg(() => zeros([2, 3]).maskedSelect(zeros([2, 3])), /^maskedSelect: .*expected BoolTensor or ByteTensor for mask/, 'maskedSelect float mask');
  throwsMsg(() => arange(3).requiresGrad_(), /only floating-point tensors can require gradients, this one is int64/, 'requiresGrad on int64');
  throwsMsg(() => { tensor([1], undefined, 'int32').requiresGrad = true; }, /floating-point/, 'requiresGrad setter on int32');
  throwsMsg(() => F.oneHot(zeros([3]), 4), /^oneHot: one_hot is only applicable to index tensor/, 'oneHot of float labels');
  throwsMsg(() => F.mseLoss(zeros([2]), zeros([2]), 'avg' as 'mean'), /unknown reduction 'avg'/, 'unknown reduction');
});

test('use of a disposed tensor says "disposed"', () => {
  const t = zeros([2, 2]);
  t.dispose();
  assert.equal(t.isDisposed, true, 'isDisposed after dispose()');
  t.dispose(); // idempotent
  throwsMsg(() => t.add(1), /add: tensor has been disposed/, 'op on a disposed tensor');
  throwsMsg(() => ones([2, 2]).mul(t), /mul: tensor has been disposed/, 'disposed second argument');
  throwsMsg(() => t.toArray(), /disposed/, 'toArray');
  throwsMsg(() => t.item(), /disposed/, 'item');
  throwsMsg(() => t.dtype, /disposed/, 'dtype');
  throwsMsg(() => t.backward(), /disposed/, 'backward');
  throwsMsg(() => cat([ones([1]), t]), /cat: tensor has been disposed/, 'disposed tensor in a list');
  let leaked: Tensor | undefined;
  tidy(() => {
    leaked = ones([3]);
  });
  throwsMsg(() => leaked!.sum(), /disposed/, 'tensor disposed by tidy');
});

test('out-of-range indices', () => {
  const x = zeros([4, 3]);
  throwsMsg(() => x.indexSelect(0, tensor([7], undefined, 'int64')), /^indexSelect: index out of range/, 'indexSelect index 7 of 4');
  throwsMsg(() => x.indexSelect(0, tensor([-1], undefined, 'int64')), /^indexSelect: index out of range/, 'indexSelect negative index');
  throwsMsg(() => x.select(0, 9), /^select: .*index 9 out of range/, 'select index 9 of 4');
  throwsMsg(() => x.select(2, 0), /^select: .*Dimension out of range/, 'select dim 2 of 2-D');
  throwsMsg(() => x.narrow(0, 3, 4), /^narrow: .*exceeds dimension size/, 'narrow past the end');
  throwsMsg(() => x.narrow(5, 0, 1), /^narrow: .*Dimension out of range/, 'narrow bad dim');
  throwsMsg(() => x.gather(1, tensor([[5]], undefined, 'int64')), /^gather: .*out of bounds/, 'gather index out of bounds');
  throwsMsg(() => x.sum(2), /^sum: .*Dimension out of range/, 'sum bad dim');
  throwsMsg(() => x.softmax(3), /^softmax: .*Dimension out of range/, 'softmax bad dim');
  throwsMsg(() => x.transpose(0, 4), /^transpose: .*Dimension out of range/, 'transpose bad dim');
  throwsMsg(() => x.topk(5, 1), /^topk: selected index k out of range/, 'topk k > size');
  throwsMsg(() => F.oneHot(tensor([0, 5], undefined, 'int64'), 3), /^oneHot: Class values must be smaller than num_classes/, 'oneHot class >= numClasses');
  throwsMsg(() => F.crossEntropy(zeros([2, 3]), tensor([0, 3], undefined, 'int64')), /^crossEntropy: Target 3 is out of bounds/, 'CE target class out of range');
  throwsMsg(() => x.select(0, Number.NaN), /select: argument 2 must be an integer/, 'NaN index');
  throwsMsg(() => x.select(0, 1.5), /select: argument 2 must be an integer, got 1\.5/, 'fractional index');
});

test('shape errors: reshape/view/cat/stack/broadcast/expand/copy_', () => {
  throwsMsg(() => zeros([2, 3]).reshape(4, 2), /^reshape: shape '\[4, 2\]' is invalid for input of size 6/, 'reshape');
  throwsMsg(() => zeros([2, 3]).transpose(0, 1).view(6), /^view: view size is not compatible with input tensor's size and stride/, 'view of a non-contiguous tensor');
  throwsMsg(() => cat([zeros([2, 3]), zeros([2, 4])]), /^cat: .*Sizes of tensors must match/, 'cat mismatched');
  throwsMsg(() => cat([]), /cat: needs at least one tensor/, 'cat of nothing');
  throwsMsg(() => stack([zeros([2]), zeros([3])]), /^stack: .*stack expects each tensor to be equal size/, 'stack mismatched');
  throwsMsg(() => stack([]), /stack: needs at least one tensor/, 'stack of nothing');
  throwsMsg(() => zeros([2, 3]).add(zeros([4])), /^add: .*size of tensor a \(3\) must match the size of tensor b \(4\)/, 'broadcast mismatch');
  throwsMsg(() => zeros([2, 3]).expand(4, 3), /^expand: The expanded size of the tensor \(4\) must match the existing size \(2\)/, 'expand a non-singleton dim');
  throwsMsg(() => zeros([3]).copy_(zeros([4])), /copy_: source shape \[4\] differs from destination shape \[3\]/, 'copy_ shape');
  throwsMsg(() => zeros([3]).item(), /item: tensor has 3 elements, expected exactly 1/, 'item of 3 elements');
  throwsMsg(() => zeros([2]).permute(0, 0), /^permute: .*dimensions/, 'permute repeated dim');
});

test('autograd errors: backward without grad, non-scalar backward', () => {
  throwsMsg(() => zeros([3]).sum().backward(), /backward: .*does not require grad/, 'backward on a no-grad tensor');
  const x = randn([3]).requiresGrad_();
  throwsMsg(() => x.mul(2).backward(), /backward: .*only for scalar outputs.*3 elements/, 'backward on a non-scalar');
  throwsMsg(() => x.mul(2).backward(zeros([4])), /^backward: invalid gradient .*got \[4\] but expected shape compatible with \[3\]/, 'backward with a gradient of the wrong shape');
  const y = x.mul(x).sum();
  y.backward();
  throwsMsg(() => y.backward(), /^backward: Trying to backward through the graph a second time/, 'backward twice without retainGraph');
});

test('CUDA requests on a CPU build mention CUDA', { skip: cudaAvailable() ? 'CUDA is available here' : false }, () => {
  throwsMsg(() => zeros([2], 'float32', 'cuda'), /zeros: device 'cuda' requested but this dfkd build has no CUDA/, 'zeros on cuda');
  throwsMsg(() => randn([2], 'float32', 'cuda:0'), /CUDA/, 'randn on cuda:0');
  throwsMsg(() => tensor([1, 2], undefined, 'float32', 'cuda'), /CUDA/, 'tensor on cuda');
  throwsMsg(() => ones([2]).to('cuda'), /^to: .*CUDA/, 'to(cuda)');
  throwsMsg(() => ones([2]).to({ device: 'cuda:1' }), /CUDA/, 'to({device: cuda:1})');
  throwsMsg(() => arange(0, 3, 1, 'float32', 'cuda' as Device), /CUDA/, 'arange on cuda');
});

test('creation errors: shape/array length mismatch, unknown dtype, bad shapes and data', () => {
  throwsMsg(() => tensor(new Float32Array(5), [2, 3]), /fromArray: shape \[2,3\] holds 6 elements but the array has 5/, 'typed array length');
  throwsMsg(() => tensor([1, 2, 3], [2, 2]), /shape \[2,2\] holds 4 elements but the array has 3/, 'plain array length');
  throwsMsg(() => tensor([[1, 2], [3]]), /holds 4 elements but the array has 3/, 'ragged nested array');
  throwsMsg(() => tensor(['a'] as unknown as number[]), /tensor: data must contain only numbers/, 'non-numeric data');
  throwsMsg(() => zeros([2, -1]), /zeros: shape must be an array of non-negative integers/, 'negative dimension');
  throwsMsg(() => ones([1.5]), /ones: shape must be an array of non-negative integers/, 'fractional dimension');
  throwsMsg(() => zeros([2], 'float16' as DType), /zeros: unknown dtype 'float16' \(expected float32, float64, int64, int32, uint8, bool or bfloat16\)/, 'unknown dtype in zeros');
  throwsMsg(() => tensor([1], undefined, 'half' as DType), /unknown dtype 'half'/, 'unknown dtype in tensor()');
  throwsMsg(() => full([2], 1, 'complex64' as DType), /unknown dtype 'complex64'/, 'unknown dtype in full');
  throwsMsg(() => ones([2]).to('half' as DType), /to: 'half' is neither a dtype .* nor a device/, 'unknown dtype in to()');
  throwsMsg(() => zeros([2], 'float32', 'tpu' as Device), /^zeros: .*device string: tpu/, 'unknown device');
  throwsMsg(() => tensor([1]).add('x' as unknown as number), /add: argument 1 must be a tensor/, 'non-tensor argument');
});

test('runtime argument errors', () => {
  throwsMsg(() => manualSeed(-1), /manualSeed: seed must be a non-negative integer/, 'negative seed');
  throwsMsg(() => manualSeed(0.5), /manualSeed: seed must be a non-negative integer/, 'fractional seed');
  throwsMsg(() => F.dropout(ones([2]), 1, true), /dropout: p must be in \[0, 1\), got 1/, 'dropout p=1');
  throwsMsg(() => F.dropout(ones([2]), -0.1, true), /dropout: p must be in \[0, 1\)/, 'dropout p<0');
  throwsMsg(() => tidy(() => Promise.resolve(1) as unknown as number), /tidy: the function returned a Promise/, 'async tidy');
});

test('the engine keeps working after all of the above errors', () => {
  const y = tensor([[1, 2], [3, 4]]).matmul(tensor([[1], [1]]));
  assert.deepEqual(Array.from(y.toFloat32Array()), [3, 7], 'matmul after errors');
  const x = randn([3], 'float64').requiresGrad_();
  x.mul(x).sum().backward();
  assert.ok(x.grad !== undefined, 'autograd after errors');
});

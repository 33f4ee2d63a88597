/**
 * Devices: the CPU semantics of `to()`, Module.to, optimizer state and checkpoints (always run), the
 * clear failure of `--device cuda` on a CPU-only build (API and CLI), and, where a CUDA device is
 * visible, ops forward+backward on the GPU against the CPU, module/optimizer moves, checkpoints
 * across devices and a short distillation on the GPU.
 *
 * The CUDA tests skip with a reason when cudaDeviceCount() is 0. With DFKD_TEST_DEVICE=cuda (what
 * scripts/gpu-check.sh sets) a missing GPU is a failure instead of a skip, so a GPU check cannot
 * pass by skipping everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  Tensor, Device, F, tensor, zeros, ones, randn, arange, tidy, noGrad, manualSeed, getRngState, setRngState,
  engineInfo, cudaAvailable, cudaDeviceCount, synchronize, resolveDevice, DeviceError, memoryStats,
} from '../src/tensor';
import { Linear } from '../src/nn';
import { SGD, Adam } from '../src/optim';
import { buildModel } from '../src/models';
import { saveModule, loadModule, saveTensors, loadTensors } from '../src/io/weights';
import { runDistill } from '../src/distill/run';
import { trainTeacher } from '../src/train/teacher';
import { mulberry32 } from './helpers/gradcheck';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dfkd.js');
const info = engineInfo();
const GPU_COUNT = cudaDeviceCount();
const WANT = process.env.DFKD_TEST_DEVICE;
const GPU: Device = (WANT && WANT !== 'cpu' ? WANT : 'cuda') as Device;
/** Skip reason for the CUDA tests (false: run them). */
const noGpu: string | false =
  GPU_COUNT > 0
    ? false
    : WANT && WANT !== 'cpu'
      ? false // asked for explicitly: run, and fail in resolveDevice with its message
      : `no CUDA device (${info.builtWithCuda ? 'CUDA build, but no GPU is visible' : 'CPU-only build of the addon'}); see docs/gpu.md`;

function dfkd(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sameValues(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual(Array.from(a.toFloat64Array()), Array.from(b.toFloat64Array()), `${what}: values differ`);
}
function closeValues(a: Float64Array, b: Float64Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: ${a.length} vs ${b.length} values`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: element ${at}: ${a[at]} vs ${b[at]} (relative difference ${worst} > ${tol})`);
}

// ------------------------------------------------------------------ CPU semantics (always)

test('to(): a target the tensor already has gives a new handle sharing storage (documented no-op copy)', () => {
  const a = tensor([1, 2, 3]);
  const b = a.to('cpu');
  assert.notEqual(b, a, 'a new Tensor object');
  assert.equal(b.device, 'cpu');
  assert.equal(a.cpu().device, 'cpu');
  noGrad(() => b.add_(10));
  assert.deepEqual(Array.from(a.toFloat32Array()), [11, 12, 13], 'in-place writes through the new handle are seen by the old one');
  b.dispose();
  assert.deepEqual(Array.from(a.toFloat32Array()), [11, 12, 13], 'disposing the new handle leaves the old one valid');
  const c = a.to({ dtype: 'float64', device: 'cpu' });
  assert.equal(c.dtype, 'float64');
  noGrad(() => c.add_(1));
  assert.deepEqual(Array.from(a.toFloat32Array()), [11, 12, 13], 'a dtype change copies');
  a.dispose();
  c.dispose();
});

test('device queries agree with each other; synchronize is a no-op without CUDA', () => {
  assert.equal(cudaAvailable(), info.cuda);
  assert.equal(cudaDeviceCount(), info.cudaDeviceCount);
  assert.equal(typeof info.cudnn, 'boolean');
  if (!info.builtWithCuda) assert.equal(GPU_COUNT, 0, 'a CPU-only build sees no CUDA device');
  synchronize();
  synchronize('cpu');
  assert.equal(resolveDevice(undefined), 'cpu');
  assert.equal(resolveDevice('cpu'), 'cpu');
  assert.throws(() => resolveDevice('tpu'), (e: Error) => e instanceof DeviceError && /unknown device 'tpu' \(expected cpu, cuda or cuda:N\)/.test(e.message));
  assert.throws(() => resolveDevice('cuda:x'), /unknown device/);
});

test('CUDA on a CPU-only build: resolveDevice, tensor creation and runDistill fail at once with the reason', { skip: info.builtWithCuda ? 'this addon is built with CUDA' : false }, async () => {
  for (const d of ['cuda', 'cuda:0', 'cuda:3']) {
    assert.throws(
      () => resolveDevice(d),
      (e: Error & { code?: string }) =>
        e instanceof DeviceError && e.code === 'EDEVICE' && e.message.includes(`device '${d}' requested but this dfkd build has no CUDA`) && e.message.includes('docs/gpu.md'),
      d,
    );
  }
  assert.throws(() => zeros([2], 'float32', 'cuda'), /this dfkd build has no CUDA/);
  assert.throws(() => ones([2]).to('cuda'), /this dfkd build has no CUDA/);
  assert.throws(() => getRngState('cuda'), /this dfkd build has no CUDA/);
  const out = path.join(tmpDir('dev'), 'never');
  await assert.rejects(
    runDistill({ teacherDir: '/nonexistent-teacher', studentArch: 'lenet5-half', method: 'ta-dfkd', out, device: 'cuda', onWarn: () => undefined }),
    (e: Error) => e instanceof DeviceError && /this dfkd build has no CUDA/.test(e.message),
  );
  assert.equal(fs.existsSync(out), false, 'nothing was written');
  assert.throws(() => trainTeacher({ dataset: 'mnist', arch: 'lenet5' }, { out: path.join(tmpDir('dev'), 't'), device: 'cuda' }), /this dfkd build has no CUDA/);
});

test('CLI: --device cuda on a CPU-only build exits 1 with one clear line; unknown devices are refused', { skip: info.builtWithCuda ? 'this addon is built with CUDA' : false }, () => {
  const dir = tmpDir('devcli');
  const runs: [string, string[]][] = [
    ['distill', ['distill', '--teacher', '/nonexistent', '--out', path.join(dir, 'd'), '--device', 'cuda']],
    ['train-teacher', ['train-teacher', '--dataset', 'mnist', '--arch', 'lenet5', '--out', path.join(dir, 't'), '--device', 'cuda']],
    ['eval', ['eval', '--model', '/nonexistent', '--device', 'cuda:1']],
    ['study', ['study', '--preset', 'quick', '--out', path.join(dir, 's'), '--device', 'cuda']],
  ];
  for (const [name, args] of runs) {
    const r = dfkd(...args);
    assert.equal(r.code, 1, `${name}: exit code ${r.code}, stderr: ${r.stderr}`);
    assert.match(r.stderr, /^dfkd: error: device 'cuda(:1)?' requested but this dfkd build has no CUDA .*docs\/gpu\.md/m, `${name}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `${name}: stack trace in stderr`);
  }
  assert.equal(fs.existsSync(path.join(dir, 'd')), false, 'distill wrote nothing');
  assert.equal(fs.existsSync(path.join(dir, 't')), false, 'train-teacher wrote nothing');
  assert.equal(fs.existsSync(path.join(dir, 's')), false, 'study wrote nothing');
  const bad = dfkd('eval', '--model', '/nonexistent', '--device', 'gpu0');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown device 'gpu0'/);
});

test("Module.to('cpu') keeps parameter identity and results; setData_ keeps identity and drops grads", () => {
  manualSeed(3);
  const m = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
  m.eval();
  const x = randn([4, 1, 32, 32]);
  const before = m.call(x);
  const params = m.parameters();
  assert.equal(m.device, 'cpu');
  assert.equal(m.to('cpu'), m);
  assert.deepEqual(m.parameters(), params);
  params.forEach((p, i) => assert.equal(p, m.parameters()[i], `parameter ${i} is the same object`));
  sameValues(m.call(x), before, 'forward after to(cpu)');

  const p = params[0];
  m.call(x).sum().backward();
  assert.ok(p.grad, 'has a gradient');
  const copy = p.detach().clone();
  p.setData_(copy);
  assert.equal(p.requiresGrad, true, 'still requires grad');
  assert.equal(p.grad, undefined, 'gradient dropped');
  assert.throws(() => p.setData_(tensor([1])), /setData: shapes differ/);
  assert.throws(() => p.setData_(copy.to('float64')), /setData: dtypes differ/);
  copy.dispose();
  m.dispose();
});

test('optimizer state: to(cpu) is a no-op; loadStateDict copies onto the parameters', () => {
  const lin = new Linear(3, 2);
  const opt = new Adam(lin.parameters(), { lr: 0.1 });
  lin.call(ones([2, 3])).sum().backward();
  opt.step();
  const st = opt.stateDict();
  const keys = [...st.tensors.keys()];
  assert.ok(keys.includes('0.exp_avg'));
  const vals = keys.map((k) => st.tensors.get(k)!.toFloat64Array());
  opt.to('cpu');
  const after = opt.stateDict();
  keys.forEach((k, i) => assert.deepEqual(Array.from(after.tensors.get(k)!.toFloat64Array()), Array.from(vals[i]), k));
  const opt2 = new Adam(lin.parameters(), { lr: 0.1 });
  opt2.loadStateDict(st);
  for (const [k, t] of opt2.stateDict().tensors) assert.equal(t.device, 'cpu', k);
  opt.dispose();
  opt2.dispose();
  lin.dispose();
});

test('state dict and safetensors round trip after Module.to(cpu) are unaffected', () => {
  manualSeed(5);
  const a = buildModel('resnet8', { inChannels: 3, numClasses: 10, imageSize: 32 }).to('cpu');
  const b = buildModel('resnet8', { inChannels: 3, numClasses: 10, imageSize: 32 });
  const file = path.join(tmpDir('devsd'), 'w.safetensors');
  saveModule(file, a);
  loadModule(file, b.to('cpu'));
  for (const [k, t] of a.stateDict()) sameValues(b.stateDict().get(k)!, t, k);
  b.loadStateDict(a.stateDict());
  a.eval();
  b.eval();
  const x = randn([2, 3, 32, 32]);
  sameValues(b.call(x), a.call(x), 'forward after the round trip');
  a.dispose();
  b.dispose();
});

test('RNG state with an explicit CPU device equals the default', () => {
  manualSeed(11);
  const s = getRngState();
  const u = randn([4]).toFloat32Array();
  setRngState(s, 'cpu');
  assert.deepEqual(Array.from(randn([4]).toFloat32Array()), Array.from(u));
  assert.deepEqual(Array.from(getRngState('cpu')), Array.from(getRngState()));
});

// ------------------------------------------------------------------ CUDA (skipped without a GPU)

test('DFKD_TEST_DEVICE names a usable device', { skip: WANT && WANT !== 'cpu' ? false : 'DFKD_TEST_DEVICE not set' }, () => {
  assert.equal(resolveDevice(WANT), WANT);
});

const rng = mulberry32(777);
function rnd(shape: number[], lo = -1, hi = 1): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng();
  return v;
}

interface OpCase {
  name: string;
  inputs: { shape: number[]; lo?: number; hi?: number; grad?: boolean }[];
  fn: (xs: Tensor[]) => Tensor;
}
// float64 everywhere: TF32 (used by default for float32 convolutions on Ampere and later) would
// blur a float32 comparison. Targets of losses are made on the inputs' device from the inputs.
const OPS: OpCase[] = [
  { name: 'add/mul/div broadcast', inputs: [{ shape: [3, 4] }, { shape: [4], lo: 0.5, hi: 2 }], fn: ([a, b]) => a.mul(b).add(b).div(b) },
  { name: 'exp/log/sqrt/tanh/sigmoid', inputs: [{ shape: [5, 3], lo: 0.1, hi: 2 }], fn: ([a]) => a.exp().add(a.log()).add(a.sqrt()).add(a.tanh()).add(a.sigmoid()) },
  { name: 'relu/leakyRelu/abs/clamp', inputs: [{ shape: [6, 4] }], fn: ([a]) => a.relu().add(a.leakyRelu(0.2)).add(a.abs()).add(a.clamp(-0.5, 0.5)) },
  { name: 'matmul', inputs: [{ shape: [4, 6] }, { shape: [6, 3] }], fn: ([a, b]) => a.matmul(b) },
  { name: 'linear', inputs: [{ shape: [5, 4] }, { shape: [3, 4] }, { shape: [3] }], fn: ([x, w, b]) => F.linear(x, w, b) },
  { name: 'conv2d stride/padding', inputs: [{ shape: [2, 3, 7, 7] }, { shape: [4, 3, 3, 3] }, { shape: [4] }], fn: ([x, w, b]) => F.conv2d(x, w, b, { stride: 2, padding: 1 }) },
  { name: 'conv2d groups', inputs: [{ shape: [2, 4, 5, 5] }, { shape: [4, 2, 3, 3] }], fn: ([x, w]) => F.conv2d(x, w, undefined, { padding: 1, groups: 2 }) },
  {
    name: 'batchNorm (training, batch statistics)',
    inputs: [{ shape: [4, 3, 5, 5] }, { shape: [3], lo: 0.5, hi: 1.5 }, { shape: [3] }],
    fn: ([x, w, b]) => F.batchNorm(x, { weight: w, bias: b, training: true }),
  },
  { name: 'maxPool2d/avgPool2d/adaptiveAvgPool2d', inputs: [{ shape: [2, 3, 8, 8] }], fn: ([x]) => F.maxPool2d(x, 2).add(F.avgPool2d(x, 2)).add(F.adaptiveAvgPool2d(x, 4)) },
  { name: 'interpolate nearest and bilinear', inputs: [{ shape: [2, 2, 4, 4] }], fn: ([x]) => F.interpolate(x, { scaleFactor: 2 }).add(F.interpolate(x, { size: [8, 8], mode: 'bilinear' })) },
  { name: 'softmax/logSoftmax', inputs: [{ shape: [4, 7], lo: -3, hi: 3 }], fn: ([x]) => x.softmax(1).add(x.logSoftmax(1)) },
  { name: 'crossEntropy with label smoothing', inputs: [{ shape: [6, 5], lo: -2, hi: 2 }], fn: ([x]) => F.crossEntropy(x, x.detach().argmax(1), { labelSmoothing: 0.1 }) },
  { name: 'klDiv batchmean', inputs: [{ shape: [4, 5] }, { shape: [4, 5], grad: false }], fn: ([a, b]) => F.klDiv(a.logSoftmax(1), b.softmax(1), { reduction: 'batchmean' }) },
  { name: 'l1Loss/mseLoss', inputs: [{ shape: [3, 4] }, { shape: [3, 4] }], fn: ([a, b]) => F.l1Loss(a, b).add(F.mseLoss(a, b)) },
  { name: 'sum/mean/var/std/norm over dims', inputs: [{ shape: [3, 4, 5] }], fn: ([x]) => x.sum([1]).add(x.mean([1])).add(x.var([1])).add(x.std([1])).add(x.norm(2, [1])) },
  { name: 'logsumexp/amax', inputs: [{ shape: [4, 6] }], fn: ([x]) => x.logsumexp(1).add(x.max(1)) },
  { name: 'indexSelect/narrow/cat/pad/transpose', inputs: [{ shape: [5, 4] }], fn: ([x]) => F.pad(x.indexSelect(0, arange(0, 5, 2, 'int64', x.device as Device)).narrow(1, 1, 2), [1, 1]).transpose(0, 1).flatten() },
];

function runCase(c: OpCase, data: Float64Array[], device: Device): { out: Float64Array; grads: Float64Array[] } {
  return tidy(() => {
    const xs = c.inputs.map((inp, i) => {
      const t = tensor(data[i], inp.shape, 'float64', device);
      if (inp.grad !== false) t.requiresGrad_(true);
      return t;
    });
    const y = c.fn(xs);
    assert.equal(y.device, device === 'cuda' ? 'cuda:0' : device, `${c.name}: output device`);
    const w = tensor(Float64Array.from({ length: y.size }, (_, i) => ((i * 7) % 5) - 2), y.shape, 'float64', device);
    y.mul(w).sum().backward();
    return {
      out: y.toFloat64Array(),
      grads: xs.map((x, i) => (c.inputs[i].grad === false ? new Float64Array(0) : x.grad!.toFloat64Array())),
    };
  });
}

test('CUDA: ops forward and backward match the CPU (float64)', { skip: noGpu }, () => {
  resolveDevice(GPU);
  for (const c of OPS) {
    const data = c.inputs.map((inp) => rnd(inp.shape, inp.lo, inp.hi));
    const cpu = runCase(c, data, 'cpu');
    const gpu = runCase(c, data, GPU);
    closeValues(gpu.out, cpu.out, 1e-9, `${c.name}: forward`);
    cpu.grads.forEach((g, i) => closeValues(gpu.grads[i], g, 1e-9, `${c.name}: gradient of input ${i}`));
  }
});

test('CUDA: data in and out, item, device names, RNG seeding and state, mixed-device errors', { skip: noGpu }, () => {
  resolveDevice(GPU);
  const a = tensor([1, 2, 3], undefined, 'float32', GPU);
  assert.match(a.device, /^cuda:\d+$/);
  assert.deepEqual(Array.from(a.toFloat32Array()), [1, 2, 3]);
  assert.deepEqual(Array.from(a.to('int64').toArray() as BigInt64Array), [1n, 2n, 3n]);
  assert.equal(a.sum().item(), 6);
  assert.equal(a.cpu().device, 'cpu');
  const same = a.to(GPU);
  noGrad(() => same.add_(1));
  assert.deepEqual(Array.from(a.toFloat32Array()), [2, 3, 4], 'to(same device) shares storage on the GPU too');
  // manualSeed seeds the CUDA generator; its state round-trips
  manualSeed(42);
  const r1 = randn([8], 'float32', GPU).toFloat32Array();
  manualSeed(42);
  const r2 = randn([8], 'float32', GPU).toFloat32Array();
  assert.deepEqual(Array.from(r2), Array.from(r1), 'manualSeed repeats CUDA draws');
  const st = getRngState(GPU);
  const u = randn([8], 'float32', GPU).toFloat32Array();
  setRngState(st, GPU);
  assert.deepEqual(Array.from(randn([8], 'float32', GPU).toFloat32Array()), Array.from(u), 'CUDA RNG state round trip');
  // a CPU tensor with a CUDA tensor: a clear error, not a crash
  assert.throws(() => ones([3]).add(a), /device/i);
  assert.throws(() => F.linear(ones([2, 3]), ones([4, 3], 'float32', GPU)), /device/i);
  synchronize(GPU);
});

test('CUDA: Module.to moves in place, trains with SGD and Adam like the CPU, and comes back', { skip: noGpu }, () => {
  resolveDevice(GPU);
  manualSeed(7);
  const cpuM = buildModel('resnet8', { inChannels: 3, numClasses: 10, imageSize: 32 });
  manualSeed(7);
  const gpuM = buildModel('resnet8', { inChannels: 3, numClasses: 10, imageSize: 32 });
  const params = gpuM.parameters();
  gpuM.to(GPU);
  gpuM.parameters().forEach((p, i) => assert.equal(p, params[i], 'same Tensor objects'));
  for (const [k, t] of gpuM.stateDict()) assert.match(t.device, /^cuda/, `${k} moved`);
  assert.match(gpuM.device, /^cuda/);
  const optC = new SGD(cpuM.parameters(), { lr: 0.05, momentum: 0.9 });
  const optG = new SGD(gpuM.parameters(), { lr: 0.05, momentum: 0.9 });
  const xData = rnd([8, 3, 32, 32]);
  const yData = Int32Array.from({ length: 8 }, (_, i) => i % 10);
  for (let step = 0; step < 3; step++) {
    for (const [m, opt, dev] of [[cpuM, optC, 'cpu'], [gpuM, optG, GPU]] as const) {
      tidy(() => {
        const x = tensor(Float32Array.from(xData), [8, 3, 32, 32], 'float32', dev);
        const y = tensor(yData, [8], 'int64', dev);
        const loss = F.crossEntropy(m.call(x), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
    }
  }
  cpuM.eval();
  gpuM.eval();
  const x = rnd([4, 3, 32, 32]);
  const outC = tidy(() => cpuM.call(tensor(Float32Array.from(x), [4, 3, 32, 32])).toFloat64Array());
  const outG = tidy(() => gpuM.call(tensor(Float32Array.from(x), [4, 3, 32, 32], 'float32', GPU)).toFloat64Array());
  closeValues(outG, outC, 2e-2, 'ResNet-8 after 3 SGD steps, GPU vs CPU (float32, TF32 allowed)');
  // optimizer state follows the module
  const adam = new Adam(gpuM.parameters(), { lr: 1e-3 });
  tidy(() => gpuM.call(tensor(Float32Array.from(x), [4, 3, 32, 32], 'float32', GPU)).sum().backward());
  adam.step();
  for (const [k, t] of adam.stateDict().tensors) assert.match(t.device, /^cuda/, `Adam ${k}`);
  gpuM.to('cpu');
  adam.to('cpu');
  for (const [k, t] of adam.stateDict().tensors) assert.equal(t.device, 'cpu', `Adam ${k} back on the CPU`);
  for (const [k, t] of gpuM.stateDict()) assert.equal(t.device, 'cpu', `${k} back on the CPU`);
  adam.dispose();
  optC.dispose();
  optG.dispose();
  cpuM.dispose();
  gpuM.dispose();
});

test('CUDA: weights saved from the GPU load on the CPU and back, identically', { skip: noGpu }, () => {
  resolveDevice(GPU);
  manualSeed(9);
  const g = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 }).to(GPU);
  const dir = tmpDir('devgpu');
  const file = path.join(dir, 'w.safetensors');
  saveModule(file, g);
  const c = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
  loadModule(file, c);
  for (const [k, t] of g.stateDict()) sameValues(c.stateDict().get(k)!, t, `${k} (GPU -> file -> CPU)`);
  const g2 = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 }).to(GPU);
  loadModule(file, g2);
  for (const [k, t] of g2.stateDict()) {
    assert.match(t.device, /^cuda/, `${k} loaded onto the GPU module's device`);
    sameValues(t, g.stateDict().get(k)!, `${k} (file -> GPU)`);
  }
  saveTensors(path.join(dir, 't.safetensors'), new Map([['x', ones([2, 2], 'float32', GPU)]]));
  const back = loadTensors(path.join(dir, 't.safetensors')).tensors.get('x')!;
  assert.equal(back.device, 'cpu');
  assert.deepEqual(Array.from(back.toFloat32Array()), [1, 1, 1, 1]);
  for (const m of [g, c, g2]) m.dispose();
});

test('CUDA: tensor memory is released on dispose', { skip: noGpu }, () => {
  resolveDevice(GPU);
  const before = memoryStats().liveTensors;
  for (let i = 0; i < 20; i++) tidy(() => randn([256, 256], 'float32', GPU).matmul(randn([256, 256], 'float32', GPU)).sum().item());
  synchronize(GPU);
  assert.equal(memoryStats().liveTensors, before, 'no handle left behind');
});

test('CUDA: a short distillation on the GPU; its checkpoint resumes on the CPU', { skip: noGpu }, async () => {
  resolveDevice(GPU);
  const teacher = tinyTeacher();
  const quiet = { onWarn: () => undefined };
  for (const method of ['ta-dfkd', 'deepinv']) {
    const out = path.join(tmpDir(`gpu-${method}`), 'r');
    const res = await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method, overrides: TINY, out, device: GPU, ...quiet });
    assert.equal(res.stopped, false, method);
    assert.equal(res.summary!.device, GPU, `${method}: summary records the device`);
    assert.ok(Number.isFinite(res.summary!.finalAccuracy), `${method}: final accuracy ${res.summary!.finalAccuracy}`);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { device: string };
    assert.equal(cfg.device, GPU);
  }
  // stop on the GPU after one iteration, finish on the CPU: same run (device is not in the hash)
  const out = path.join(tmpDir('gpu-resume'), 'r');
  const first = await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: TINY, out, device: GPU, shouldStop: () => true, ...quiet });
  assert.equal(first.stopped, true);
  const warnings: string[] = [];
  const second = await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: TINY, out, resume: true, device: 'cpu', onWarn: (m) => warnings.push(m) });
  assert.equal(second.stopped, false);
  assert.ok(warnings.some((w) => /written on a GPU and the run continues on the CPU/.test(w)), `warnings: ${warnings.join(' | ')}`);
  assert.equal(second.summary!.device, 'cpu');
});

/**
 * ONNX teachers (`dfkd import --onnx`): any CNN exported to ONNX, interpreted over dfkd's ops.
 *
 * - Against PyTorch and onnxruntime-node: test/fixtures/onnx_teachers.py (a Python with torch and
 *   torchvision: DFKD_PYTHON, else python3, /usr/bin/python3) exports torchvision resnet18 and
 *   mobilenet_v2 and a user-style model with odd names at opsets 13 / 11 / 17 with reference logits
 *   and gradients. dfkd must match onnxruntime's logits to 1e-4 and PyTorch's gradients with respect
 *   to the input, to a BatchNorm's input and of the BN-statistics loss. Skipped with a message when
 *   the Python pieces are missing.
 * - The imported user model goes through the CLI: import, eval, a short TA-DFKD distillation.
 * - Bad graphs (built here with onnx-proto, no Python needed): an unsupported operator, a dynamic
 *   spatial shape, a graph without BatchNorm (import and distillation warn, the BN term is off).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { Tensor, tensor, zeros, tidy } from '../src/tensor';
import { BatchNorm } from '../src/nn';
import { BNStatsHook } from '../src/distill/bn-hook';
import { GraphBuilder } from '../src/interop/onnx';
import { parseOnnx, resolveInputShape } from '../src/interop/onnx-graph/parse';
import { OnnxGraphModule, SUPPORTED_ONNX_OPS } from '../src/interop/onnx-graph/model';
import { importOnnxTeacher } from '../src/interop/onnx-graph/teacher';
import { loadTeacher } from '../src/train/teacher';
import { TINY } from './helpers/distill-fixtures';
import { findPython, loadOnnxRuntime, type Ort } from './helpers/python';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'onnx_teachers.py');
const BIN = path.join(ROOT, 'bin', 'dfkd.js');

const PYTHON: string | undefined = findPython('torch, torchvision');
const ORT: Ort | undefined = loadOnnxRuntime();
const SKIP =
  PYTHON === undefined
    ? 'no python3 with torch and torchvision found (Debian: apt-get install python3-torch python3-torchvision; or set DFKD_PYTHON)'
    : ORT === undefined
      ? 'onnxruntime-node cannot be loaded'
      : false;

function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dfkd-onnx-${tag}-`));
}

function dfkd(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DFKD_QUIET: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** Max |a - b| relative to max |b| (gradients of deep nets span several orders of magnitude). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / Math.max(scale, 1e-12);
}

interface Reference {
  input: number[];
  input_shape: number[];
  w: number[];
  logits: number[];
  grad_input: number[];
  bn_probe: string;
  grad_bn_input: number[];
  grad_bn_input_shape: number[];
  bn_loss: number;
  grad_bn_loss: number[];
  batchnorms: number;
  opset: number;
}

let fixtures: string | undefined;
function pythonFixtures(): string {
  if (fixtures) return fixtures;
  const dir = tmpdir('fixtures');
  const r = spawnSync(PYTHON!, [SCRIPT, dir], { encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${SCRIPT} failed (status ${r.status}):\n${r.stderr}`);
  fixtures = dir;
  return dir;
}

function loadGraph(file: string): OnnxGraphModule {
  const g = parseOnnx(fs.readFileSync(file), file, SUPPORTED_ONNX_OPS);
  const s = resolveInputShape(g, file, {});
  return new OnnxGraphModule(g, { file, ...s });
}

async function ortRun(file: string, x: Tensor): Promise<Float32Array> {
  const s = await ORT!.InferenceSession.create(file);
  try {
    const out = await s.run({ [s.inputNames[0]]: new ORT!.Tensor('float32', x.toFloat32Array(), x.shape) });
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

for (const name of ['resnet18', 'mobilenet_v2', 'user_net']) {
  test(`ONNX teacher ${name}: logits match onnxruntime (1e-4), gradients match PyTorch (input, a BatchNorm input, the BN-statistics loss)`, { skip: SKIP, timeout: 300_000 }, async () => {
    const dir = pythonFixtures();
    const file = path.join(dir, `${name}.onnx`);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, `${name}.ref.json`), 'utf8')) as Reference;
    const model = loadGraph(file);
    try {
      const bns = model.namedModules().filter(([, m]) => m instanceof BatchNorm);
      assert.equal(bns.length, ref.batchnorms, 'one BatchNorm module per BatchNormalization node');
      const probe = bns.find(([n]) => n === ref.bn_probe);
      assert.ok(probe, `a BatchNorm named '${ref.bn_probe}' (after the exporter's initialiser names); have ${bns.map(([n]) => n).join(', ')}`);

      const x = tensor(Float32Array.from(ref.input), ref.input_shape);
      const ortLogits = await ortRun(file, x);
      // Gradient with respect to the probe BatchNorm's input: a zero leaf added to that input.
      const bn = probe[1] as BatchNorm;
      const delta = zeros(ref.grad_bn_input_shape).requiresGrad_(true);
      const forward = bn.forward.bind(bn);
      bn.forward = (t: Tensor) => forward(t.add(delta));
      tidy(() => {
        x.requiresGrad_(true);
        const logits = model.call(x);
        const dOnnx = maxAbsDiff(logits.toFloat32Array(), ortLogits);
        assert.ok(dOnnx < 1e-4, `logits differ from onnxruntime by ${dOnnx}`);
        assert.ok(maxAbsDiff(logits.toFloat32Array(), ref.logits) < 1e-4, 'logits match PyTorch');
        logits.mul(tensor(Float32Array.from(ref.w), [2, 10])).sum().backward();
        const gIn = relDiff(x.grad!.toFloat32Array(), ref.grad_input);
        const gBn = relDiff(delta.grad!.toFloat32Array(), ref.grad_bn_input);
        assert.ok(gIn < 1e-4, `d(logits . w)/d input differs from PyTorch by ${gIn} (relative)`);
        assert.ok(gBn < 1e-4, `d(logits . w)/d (input of ${ref.bn_probe}) differs from PyTorch by ${gBn} (relative)`);
      });
      bn.forward = forward;
      tidy(() => {
        const xb = tensor(Float32Array.from(ref.input), ref.input_shape).requiresGrad_(true);
        const hook = new BNStatsHook(model);
        assert.equal(hook.layers, ref.batchnorms, 'the BN-statistics hook sees every BatchNormalization node');
        const { loss } = hook.capture(() => model.call(xb));
        hook.remove();
        assert.ok(Math.abs(loss.item() - ref.bn_loss) < 1e-4 * Math.max(1, ref.bn_loss), `BN loss ${loss.item()} vs PyTorch ${ref.bn_loss}`);
        loss.backward();
        const g = relDiff(xb.grad!.toFloat32Array(), ref.grad_bn_loss);
        assert.ok(g < 1e-4, `d L_BN / d input differs from PyTorch by ${g} (relative)`);
      });
    } finally {
      model.dispose();
    }
  });
}

test('dfkd import --onnx, eval and a short TA-DFKD distillation from the imported user model (CLI)', { skip: SKIP, timeout: 300_000 }, () => {
  const dir = pythonFixtures();
  const work = tmpdir('cli');
  const teacher = path.join(work, 'teacher');
  const imp = dfkd(['import', '--onnx', path.join(dir, 'user_net.onnx'), '--dataset', 'mnist', '--out', teacher]);
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /imported onnx:user_net \(ONNX, 1x32x32 input, 10 classes, .* 3 BatchNorm\) for mnist: test accuracy/);
  assert.match(imp.stdout, /no normalisation in the model's metadata_props/);
  const rec = JSON.parse(fs.readFileSync(path.join(teacher, 'teacher.json'), 'utf8'));
  assert.equal(rec.format, 'onnx');
  assert.equal(rec.recipe.opset, 17);
  const ev = dfkd(['eval', '--model', teacher]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, new RegExp(`accuracy ${(rec.testAccuracy * 100).toFixed(2)}%`), 'dfkd eval gives the accuracy measured at import');

  const cfg = path.join(work, 'tiny.json');
  fs.writeFileSync(cfg, JSON.stringify(TINY));
  const run = path.join(work, 'run');
  const d = dfkd(['distill', '--teacher', teacher, '--config', cfg, '--out', run, '--student', 'lenet5-half']);
  assert.equal(d.status, 0, d.stderr);
  assert.doesNotMatch(d.stderr, /BN-statistics prior is off/);
  const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
  assert.equal(summary.iterations, TINY.iterations);
  const log = fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.length > 0 && log.every((l) => typeof l.losses.bn === 'number' && l.losses.bn > 0), 'the generator loss has a BN-statistics term');
});

// ------------------------------------------------------------------------ graphs built in the test
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** conv(1->4, 3x3) [-> BatchNormalization] -> Relu -> [extra op] -> GlobalAveragePool -> Flatten -> Gemm(4->10). */
function tinyGraph(o: { bn?: boolean; extraOp?: string; dims?: (number | string)[]; opset?: number }): Buffer {
  const b = new GraphBuilder();
  b.fresh('x');
  const w = b.initializer('conv.weight', Float32Array.from({ length: 36 }, (_, i) => Math.sin(i) * 0.3), [4, 1, 3, 3]);
  let y = b.node('Conv', ['x', w], 'conv', [{ name: 'pads', ints: [1, 1, 1, 1] }]);
  if (o.bn) {
    const p = (n: string, v: number[]): string => b.initializer(n, Float32Array.from(v), [4]);
    y = b.node('BatchNormalization', [y, p('bn.weight', [1, 1.2, 0.8, 1]), p('bn.bias', [0, 0.1, -0.1, 0]), p('bn.running_mean', [0, 0.1, 0, -0.1]), p('bn.running_var', [1, 0.9, 1.1, 1])], 'bn');
  }
  y = b.node('Relu', [y], 'relu');
  if (o.extraOp) y = b.node(o.extraOp, [y], 'mystery');
  y = b.node('GlobalAveragePool', [y], 'gap');
  y = b.node('Flatten', [y], 'flat');
  const fw = b.initializer('fc.weight', Float32Array.from({ length: 40 }, (_, i) => Math.cos(i) * 0.5), [10, 4]);
  const fb = b.initializer('fc.bias', new Float32Array(10), [10]);
  y = b.node('Gemm', [y, fw, fb], 'fc', [{ name: 'transB', i: 1 }]);
  b.renameOutput(y, 'logits');
  const dims = o.dims ?? ['batch', 1, 32, 32];
  const vi = (name: string, d: (number | string)[]): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: d.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) } } },
  });
  const model: onnx.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: o.opset ?? 13 }],
    graph: { name: 'tiny', node: b.nodes, initializer: b.initializers, input: [vi('x', dims)], output: [vi('logits', ['batch', 10])] },
  };
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

function writeGraph(dir: string, name: string, bytes: Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

test('an unsupported operator: one message naming the op, node and opset, listing the supported ops; nothing written', () => {
  const dir = tmpdir('unsupported');
  const f = writeGraph(dir, 'erf.onnx', tinyGraph({ bn: true, extraOp: 'Erf', opset: 15 }));
  const out = path.join(dir, 'teacher');
  assert.throws(
    () => importOnnxTeacher({ onnx: f, dataset: 'mnist', out, testAccuracy: false }),
    (e: Error) => {
      assert.match(e.message, /unsupported ONNX operator 'Erf' at node 'mystery#Erf' \(opset 15\)/);
      for (const op of ['Conv', 'BatchNormalization', 'HardSwish', 'Gemm', 'Reshape', 'Squeeze']) assert.match(e.message, new RegExp(`\\b${op}\\b`));
      assert.match(e.message, /Nothing was written/);
      return true;
    },
  );
  assert.equal(fs.existsSync(out), false, 'no partial teacher directory');
  const cli = dfkd(['import', '--onnx', f, '--dataset', 'mnist', '--out', out]);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /unsupported ONNX operator 'Erf'/);
  assert.equal(fs.existsSync(out), false);
  const none = dfkd(['import', '--dataset', 'mnist', '--out', out]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /needs --arch and --weights .* or --onnx .*; missing: --arch, --weights/);
  const both = dfkd(['import', '--onnx', f, '--arch', 'lenet5', '--dataset', 'mnist', '--out', out]);
  assert.match(both.stderr, /do not combine it with --arch/);
});

test('a dynamic spatial shape is refused with a clear message, and accepted with --image-size', () => {
  const dir = tmpdir('dynamic');
  const f = writeGraph(dir, 'dyn.onnx', tinyGraph({ bn: true, dims: ['batch', 1, 'height', 'width'] }));
  assert.throws(() => importOnnxTeacher({ onnx: f, dataset: 'mnist', out: path.join(dir, 't1'), testAccuracy: false }), /dynamic spatial shape \[batch, 1, height, width\].*--image-size/);
  const r = importOnnxTeacher({ onnx: f, dataset: 'mnist', out: path.join(dir, 't2'), testAccuracy: false, imageSize: 32 });
  assert.equal(r.record.imageSize, 32);
  assert.throws(() => importOnnxTeacher({ onnx: writeGraph(dir, 'rgb.onnx', tinyGraph({ dims: ['batch', 3, 32, 32] })), dataset: 'mnist', out: path.join(dir, 't3'), testAccuracy: false }), /takes 3-channel input but dataset 'mnist' has 1-channel images/);
});

test('a graph without BatchNorm: import warns, distillation warns that the BN prior is off and runs without the BN term', () => {
  const dir = tmpdir('nobn');
  const f = writeGraph(dir, 'nobn.onnx', tinyGraph({ bn: false }));
  const warnings: string[] = [];
  const teacher = path.join(dir, 'teacher');
  importOnnxTeacher({ onnx: f, dataset: 'mnist', out: teacher, testAccuracy: false, onWarn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no BatchNormalization nodes: TA-DFKD's BN-statistics prior will be off.*TrainingMode.PRESERVE/);
  const { model, record } = loadTeacher(teacher);
  assert.equal(record.format, 'onnx');
  model.dispose();
  const cfg = path.join(dir, 'tiny.json');
  fs.writeFileSync(cfg, JSON.stringify(TINY));
  const run = path.join(dir, 'run');
  const d = dfkd(['distill', '--teacher', teacher, '--config', cfg, '--out', run]);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stderr, /has no BatchNorm layers: ta-dfkd's BN-statistics prior is off \(weights.bn 10 -> 0\)/);
  const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  assert.equal(config.config.weights.bn, 0);
  assert.match(d.stderr, /TA-DFKD's anchors \(images inverted by matching BN statistics\) are off/);
  assert.equal(config.config.tadfkd.anchors, false);
  const log = fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.length > 0 && log.every((l) => l.losses !== undefined && l.losses.bn === undefined), 'no BN term in the log');
});

test('the model normalisation (metadata or --mean/--std) is converted from the dataset normalisation', () => {
  const dir = tmpdir('norm');
  const f = writeGraph(dir, 'n.onnx', tinyGraph({ bn: true }));
  const a = importOnnxTeacher({ onnx: f, dataset: 'mnist', out: path.join(dir, 'a'), testAccuracy: false });
  const b = importOnnxTeacher({ onnx: f, dataset: 'mnist', out: path.join(dir, 'b'), testAccuracy: false, mean: [0.5], std: [0.25] });
  assert.equal(a.record.recipe.normalisation.source, 'dataset');
  assert.equal(b.record.recipe.normalisation.source, 'command line');
  // The same pixels in dataset normalisation: b's graph must see (p - 0.5) / 0.25.
  const ta = loadTeacher(path.join(dir, 'a')).model;
  const tb = loadTeacher(path.join(dir, 'b')).model;
  tidy(() => {
    const pixels = tensor(Float32Array.from({ length: 2 * 32 * 32 }, (_, i) => (i % 7) / 7), [2, 1, 32, 32]);
    const dsNorm = pixels.sub(0.1307).div(0.3081);
    const modelNorm = pixels.sub(0.5).div(0.25);
    assert.ok(maxAbsDiff(tb.call(dsNorm).toFloat32Array(), ta.call(modelNorm).toFloat32Array()) < 1e-5);
  });
  ta.dispose();
  tb.dispose();
});

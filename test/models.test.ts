/**
 * The model zoo: shapes, parameter counts, state-dict names against the PyTorch reference
 * definitions in test/fixtures/torch_zoo.py, and numerical parity with PyTorch (eval mode).
 *
 * The PyTorch checks run when a Python with torch is found (DFKD_PYTHON if set, else python3,
 * /usr/bin/python3 or python); otherwise they are skipped with a message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, tensor, randn, rand, noGrad, tidy, manualSeed, DType } from '../src/tensor';
import { Module, BatchNorm } from '../src/nn';
import {
  buildModel,
  buildGenerator,
  getModel,
  listModels,
  listModelNames,
  registerModel,
  Generator,
  Classifier,
  modelFamily,
  familyStudentFor,
  defaultStudentFor,
} from '../src/models';
import { loadSafetensors } from '../src/io/safetensors';
import { findPython } from './helpers/python';

const CLASSIFIERS = ['lenet5', 'lenet5-half', 'resnet8', 'resnet8-half', 'resnet20', 'resnet18', 'resnet34', 'wrn-16-1', 'wrn-16-2', 'wrn-40-2', 'vgg5', 'vgg5-small', 'vgg11'];

/**
 * Trainable parameter counts, computed with the PyTorch reference definitions
 * (`python3 test/fixtures/torch_zoo.py counts`), keyed by "inChannels x numClasses".
 */
const EXPECTED_PARAMS: Record<string, Record<string, number>> = {
  lenet5: { '1x10': 61_990, '3x10': 62_290, '3x100': 69_940 },
  'lenet5-half': { '1x10': 15_880, '3x10': 16_030, '3x100': 19_900 },
  resnet8: { '1x10': 77_754, '3x10': 78_042, '3x100': 83_892 },
  'resnet8-half': { '1x10': 19_810, '3x10': 19_954, '3x100': 22_924 },
  resnet20: { '1x10': 272_186, '3x10': 272_474, '3x100': 278_324 },
  resnet18: { '1x10': 11_172_810, '3x10': 11_173_962, '3x100': 11_220_132 },
  resnet34: { '1x10': 21_280_970, '3x10': 21_282_122, '3x100': 21_328_292 },
  'wrn-16-1': { '1x10': 174_778, '3x10': 175_066, '3x100': 180_916 },
  'wrn-16-2': { '1x10': 691_386, '3x10': 691_674, '3x100': 703_284 },
  'wrn-40-2': { '1x10': 2_243_258, '3x10': 2_243_546, '3x100': 2_255_156 },
  vgg5: { '1x10': 98_922, '3x10': 99_210, '3x100': 110_820 },
  'vgg5-small': { '1x10': 20_458, '3x10': 20_602, '3x100': 25_012 },
  vgg11: { '1x10': 9_229_962, '3x10': 9_231_114, '3x100': 9_277_284 },
  // generator: nz 100, width 128, 32x32, `inChannels` output channels (numClasses is ignored).
  generator: { '1x10': 1_049_985, '3x10': 1_051_139, '3x100': 1_051_139 },
};

/** Feature dimension (input of featureLayer) and the channels of each block output, 32x32 input. */
const STRUCTURE: Record<string, { featureDim: number; blocks: number[][] }> = {
  lenet5: { featureDim: 84, blocks: [[6, 14], [16, 5], [120, 1]] },
  'lenet5-half': { featureDim: 42, blocks: [[3, 14], [8, 5], [60, 1]] },
  resnet8: { featureDim: 64, blocks: [[16, 32], [32, 16], [64, 8]] },
  'resnet8-half': { featureDim: 32, blocks: [[8, 32], [16, 16], [32, 8]] },
  resnet20: { featureDim: 64, blocks: [[16, 32], [32, 16], [64, 8]] },
  resnet18: { featureDim: 512, blocks: [[64, 32], [128, 16], [256, 8], [512, 4]] },
  resnet34: { featureDim: 512, blocks: [[64, 32], [128, 16], [256, 8], [512, 4]] },
  'wrn-16-1': { featureDim: 64, blocks: [[16, 32], [32, 16], [64, 8]] },
  'wrn-16-2': { featureDim: 128, blocks: [[32, 32], [64, 16], [128, 8]] },
  'wrn-40-2': { featureDim: 128, blocks: [[32, 32], [64, 16], [128, 8]] },
  vgg5: { featureDim: 128, blocks: [[16, 16], [32, 8], [64, 4], [128, 2]] },
  'vgg5-small': { featureDim: 48, blocks: [[8, 16], [16, 8], [32, 4], [48, 2]] },
  vgg11: { featureDim: 512, blocks: [[64, 16], [128, 8], [256, 4], [512, 2], [512, 1]] },
};

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'torch_zoo.py');

/** A Python interpreter that can import torch, or undefined. */
const PYTHON: string | undefined = findPython('torch');
const NO_TORCH = PYTHON === undefined ? 'no python3 with torch found (set DFKD_PYTHON to a python that can import torch)' : false;

function runPython(args: string[]): string {
  const r = spawnSync(PYTHON!, [SCRIPT, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${SCRIPT} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

function build(name: string, inChannels: number, numClasses: number): Module {
  return getModel(name).kind === 'generator' ? buildGenerator(name, { inChannels, numClasses }) : buildModel(name, { inChannels, numClasses });
}

function stateList(m: Module): [string, number[], DType][] {
  return [...m.stateDict()].map(([k, t]) => [k, t.shape, t.dtype]);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ------------------------------------------------------------------------------------ registry
test('registry: lists the zoo, unknown names list the known ones', () => {
  assert.deepEqual(listModelNames('classifier'), CLASSIFIERS);
  assert.deepEqual(listModelNames('generator'), ['generator']);
  assert.deepEqual(
    listModels().map((s) => s.name),
    [...CLASSIFIERS, 'generator'],
  );
  for (const s of listModels()) assert.ok(s.description.length > 10, s.name);
  assert.throws(() => getModel('resnet-18'), (e: Error) => /unknown model 'resnet-18'/.test(e.message) && /resnet18/.test(e.message) && /wrn-40-2/.test(e.message));
  assert.throws(() => buildModel('nope', { inChannels: 3, numClasses: 10 }), /known models: lenet5, lenet5-half/);
  assert.throws(() => buildModel('generator', { inChannels: 3, numClasses: 10 }), /not a classifier/);
  assert.throws(() => buildGenerator('resnet8', { inChannels: 3, numClasses: 10 }), /not a generator/);
  assert.throws(() => buildModel('resnet8', { inChannels: 0, numClasses: 10 }), /inChannels/);
  assert.throws(() => buildModel('resnet8', { inChannels: 3, numClasses: 0 }), /numClasses/);
  assert.throws(() => registerModel({ ...getModel('resnet8') }), /already registered/);
});

test('registry: custom models can be registered', () => {
  registerModel({
    name: 'test-resnet8-alias',
    description: 'an alias used by the tests',
    kind: 'classifier',
    build: (o) => buildModel('resnet8', o),
  });
  const m = buildModel('test-resnet8-alias', { inChannels: 1, numClasses: 3 });
  assert.equal(m.numParameters(), buildModel('resnet8', { inChannels: 1, numClasses: 3 }).numParameters());
  m.dispose();
});

// --------------------------------------------------------------------------- shapes and counts
for (const name of CLASSIFIERS) {
  test(`${name}: logits shape, parameter count, featureLayer and blocks`, () => {
    manualSeed(0);
    for (const [c, k] of [[1, 10], [3, 10], [3, 100]]) {
      const m = buildModel(name, { inChannels: c, numClasses: k, imageSize: 32 });
      try {
        assert.equal(m.numParameters(), EXPECTED_PARAMS[name][`${c}x${k}`], `${name} ${c}x${k} parameter count`);
        if (k === 100) continue;
        const feats: number[][] = [];
        const blockShapes: number[][] = [];
        const handles = [
          m.featureLayer.registerForwardHook((_mod, input) => feats.push(input.shape)),
          ...m.blocks.map((b) => b.registerForwardHook((_mod, _in, out) => blockShapes.push(out.shape))),
        ];
        for (const training of [true, false]) {
          m.train(training);
          feats.length = 0;
          blockShapes.length = 0;
          const shape = tidy(() => noGrad(() => m.call(randn([2, c, 32, 32])).shape));
          assert.deepEqual(shape, [2, k], `${name} ${c}x${k} logits`);
          const st = STRUCTURE[name];
          assert.deepEqual(feats, [[2, st.featureDim]], `${name} featureLayer input`);
          assert.deepEqual(
            blockShapes,
            st.blocks.map(([ch, s]) => [2, ch, s, s]),
            `${name} block outputs`,
          );
        }
        for (const hd of handles) hd.remove();
      } finally {
        m.dispose();
      }
    }
  });
}

test('classifiers: gradients reach every parameter', () => {
  manualSeed(1);
  for (const name of ['lenet5-half', 'resnet8', 'wrn-16-1']) {
    const m = buildModel(name, { inChannels: 3, numClasses: 5 });
    tidy(() => {
      const loss = m.call(randn([2, 3, 32, 32])).square().mean();
      loss.backward();
      for (const [n, p] of m.namedParameters()) {
        const g = p.grad;
        assert.ok(g !== undefined, `${name}: no gradient for ${n}`);
        assert.ok(g.isfinite().all(), `${name}: non-finite gradient for ${n}`);
      }
    });
    m.dispose();
  }
});

test('lenet5 requires 32x32 inputs and says so', () => {
  for (const name of ['lenet5', 'lenet5-half']) {
    assert.throws(() => buildModel(name, { inChannels: 1, numClasses: 10, imageSize: 28 }), (e: Error) => e.message.includes(name) && /32x32.*imageSize 28/.test(e.message));
    const m = buildModel(name, { inChannels: 1, numClasses: 10 });
    assert.throws(
      () => tidy(() => m.call(randn([2, 1, 28, 28]))),
      (e: Error) => e.message.includes(name) && e.message.includes('32x32') && e.message.includes('28x28'),
    );
    assert.throws(() => tidy(() => m.call(randn([2, 3, 32, 32]))), /expected input \[N,1,32,32\]/);
    m.dispose();
  }
});

test('residual and VGG classifiers accept larger inputs (global average pooling)', () => {
  for (const name of ['resnet8', 'wrn-16-1', 'vgg5', 'vgg11']) {
    const m = buildModel(name, { inChannels: 3, numClasses: 7, imageSize: 64 }).eval();
    assert.deepEqual(tidy(() => noGrad(() => m.call(randn([2, 3, 64, 64])).shape)), [2, 7], name);
    m.dispose();
  }
});

test('state-dict names follow the PyTorch conventions', () => {
  const names = (n: string): string[] => [...build(n, 3, 10).stateDict().keys()];
  const lenet = names('lenet5');
  for (const k of ['features.0.weight', 'features.1.running_mean', 'features.1.num_batches_tracked', 'features.8.bias', 'classifier.0.weight', 'classifier.2.bias']) {
    assert.ok(lenet.includes(k), k);
  }
  const r18 = names('resnet18');
  for (const k of ['conv1.weight', 'bn1.running_var', 'layer1.0.conv1.weight', 'layer1.0.bn2.bias', 'layer2.0.shortcut.0.weight', 'layer2.0.shortcut.1.running_mean', 'layer4.1.conv2.weight', 'linear.weight']) {
    assert.ok(r18.includes(k), k);
  }
  assert.ok(!r18.some((k) => k.startsWith('layer1.0.shortcut')), 'no shortcut params where shapes match');
  const wrn = names('wrn-16-2');
  for (const k of ['conv1.weight', 'block1.layer.0.bn1.weight', 'block1.layer.0.conv1.weight', 'block1.layer.0.convShortcut.weight', 'block3.layer.1.conv2.weight', 'bn1.running_mean', 'fc.bias']) {
    assert.ok(wrn.includes(k), k);
  }
  const vgg = names('vgg11');
  for (const k of ['features.0.weight', 'features.1.running_mean', 'features.4.weight', 'features.8.weight', 'features.11.weight', 'features.25.weight', 'features.26.running_var', 'classifier.weight']) {
    assert.ok(vgg.includes(k), k);
  }
});

test('state dicts match the PyTorch reference definitions exactly', { skip: NO_TORCH }, () => {
  const ref = JSON.parse(runPython(['counts'])) as {
    configs: [number, number][];
    models: Record<string, Record<string, { params: number; state: [string, number[], string][] }>>;
  };
  assert.deepEqual(Object.keys(ref.models), [...CLASSIFIERS, 'generator']);
  for (const [name, byConfig] of Object.entries(ref.models)) {
    for (const [c, k] of ref.configs) {
      const key = `${c}x${k}`;
      const m = build(name, c, k);
      try {
        assert.equal(byConfig[key].params, EXPECTED_PARAMS[name][key], `hard-coded count of ${name} ${key} is stale`);
        assert.equal(m.numParameters(), byConfig[key].params, `${name} ${key} parameter count`);
        assert.deepEqual(stateList(m), byConfig[key].state, `${name} ${key} state dict`);
      } finally {
        m.dispose();
      }
    }
  }
});

// ------------------------------------------------------------------------------------ parity
test('logits match PyTorch in eval mode (weights loaded from safetensors)', { skip: NO_TORCH, timeout: 120_000 }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfkd-zoo-'));
  try {
    runPython(['export', dir]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<
      string,
      { inChannels: number; numClasses: number; inputShape: number[]; outputShape: number[] }
    >;
    assert.ok(['lenet5', 'resnet18', 'wrn-16-1', 'generator'].every((n) => n in manifest));
    const load = (file: string): Map<string, Tensor> => {
      const out = new Map<string, Tensor>();
      for (const [k, v] of Object.entries(loadSafetensors(file).tensors)) {
        assert.ok(v.dtype === 'F32' || v.dtype === 'I64', `${file}: ${k} has dtype ${v.dtype}`);
        out.set(k, tensor(v.data, v.shape, v.dtype === 'F32' ? 'float32' : 'int64'));
      }
      return out;
    };
    const errors: Record<string, number> = {};
    for (const [name, info] of Object.entries(manifest)) {
      const m = build(name, info.inChannels, info.numClasses);
      const weights = load(path.join(dir, `${name}.weights.safetensors`));
      const io = load(path.join(dir, `${name}.io.safetensors`));
      try {
        m.loadStateDict(weights, { origin: `${name}.weights.safetensors` });
        m.eval();
        // Buffers (running stats, int64 counters) came through too.
        const bn = m.modules().find((x): x is BatchNorm => x instanceof BatchNorm)!;
        assert.ok(bn.numBatchesTracked.item() > 0, `${name}: num_batches_tracked loaded`);
        const x = io.get('input')!;
        assert.deepEqual(x.shape, info.inputShape);
        const y = tidy(() => noGrad(() => m.call(x).toFloat32Array()));
        const ref = io.get('output')!;
        assert.deepEqual(ref.shape, info.outputShape);
        const refData = ref.toFloat32Array();
        const err = maxAbsDiff(y, refData);
        const scale = refData.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        errors[name] = err;
        t.diagnostic(`${name}: max |dfkd - torch| = ${err.toExponential(2)} (max |output| ${scale.toFixed(3)})`);
        assert.ok(scale > 1e-2, `${name}: reference output is degenerate`);
        assert.ok(err < 1e-4, `${name}: max abs error ${err} >= 1e-4`);
      } finally {
        m.dispose();
        for (const v of weights.values()) v.dispose();
        for (const v of io.values()) v.dispose();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------- generator
test('Generator: shapes, [0,1] range, names and BN eps as in DAFL', () => {
  manualSeed(3);
  for (const imageSize of [32, 28]) {
    for (const channels of [1, 3]) {
      const g = new Generator({ nz: 16, width: 8, imageSize, channels });
      for (const training of [true, false]) {
        g.train(training);
        const [shape, min, max] = tidy(() =>
          noGrad(() => {
            const img = g.call(randn([2, 16]));
            return [img.shape, img.min().item(), img.max().item()] as const;
          }),
        );
        assert.deepEqual(shape, [2, channels, imageSize, imageSize]);
        assert.ok(min >= 0 && max <= 1, `values in [0,1]: ${min}..${max}`);
      }
      const s = imageSize / 4;
      assert.deepEqual(
        stateList(g),
        [
          ['l1.0.weight', [8 * s * s, 16], 'float32'],
          ['l1.0.bias', [8 * s * s], 'float32'],
          ['conv_blocks0.0.weight', [8], 'float32'],
          ['conv_blocks0.0.bias', [8], 'float32'],
          ['conv_blocks0.0.running_mean', [8], 'float32'],
          ['conv_blocks0.0.running_var', [8], 'float32'],
          ['conv_blocks0.0.num_batches_tracked', [], 'int64'],
          ['conv_blocks1.0.weight', [8, 8, 3, 3], 'float32'],
          ['conv_blocks1.0.bias', [8], 'float32'],
          ['conv_blocks1.1.weight', [8], 'float32'],
          ['conv_blocks1.1.bias', [8], 'float32'],
          ['conv_blocks1.1.running_mean', [8], 'float32'],
          ['conv_blocks1.1.running_var', [8], 'float32'],
          ['conv_blocks1.1.num_batches_tracked', [], 'int64'],
          ['conv_blocks2.0.weight', [4, 8, 3, 3], 'float32'],
          ['conv_blocks2.0.bias', [4], 'float32'],
          ['conv_blocks2.1.weight', [4], 'float32'],
          ['conv_blocks2.1.bias', [4], 'float32'],
          ['conv_blocks2.1.running_mean', [4], 'float32'],
          ['conv_blocks2.1.running_var', [4], 'float32'],
          ['conv_blocks2.1.num_batches_tracked', [], 'int64'],
          ['conv_blocks2.3.weight', [channels, 4, 3, 3], 'float32'],
          ['conv_blocks2.3.bias', [channels], 'float32'],
        ],
      );
      const bns = g.modules().filter((x): x is BatchNorm => x instanceof BatchNorm).map((b) => b.eps);
      assert.deepEqual(bns, [1e-5, 0.8, 0.8]);
      g.dispose();
    }
  }
});

test('Generator: gradients flow to z and every parameter; bad configs are rejected', () => {
  const g = new Generator({ nz: 16, width: 8, imageSize: 32, channels: 3 });
  tidy(() => {
    const z = rand([4, 16]).requiresGrad_();
    g.call(z).mean().backward();
    assert.ok(z.grad !== undefined && z.grad.abs().sum().item() > 0);
    for (const [n, p] of g.namedParameters()) assert.ok(p.grad !== undefined, n);
  });
  assert.throws(() => tidy(() => g.call(randn([2, 15]))), /latent codes \[N,16\]/);
  assert.throws(() => new Generator({ nz: 16, width: 8, imageSize: 30, channels: 3 }), /multiple of 4/);
  assert.throws(() => new Generator({ nz: 16, width: 7, imageSize: 32, channels: 3 }), /even/);
  g.dispose();
  const viaRegistry = buildGenerator('generator', { inChannels: 1, numClasses: 10, imageSize: 28, nz: 16, width: 8 });
  assert.ok(viaRegistry instanceof Generator);
  assert.deepEqual(tidy(() => noGrad(() => viaRegistry.eval().call(randn([3, 16])).shape)), [3, 1, 28, 28]);
  viaRegistry.dispose();
});

test('Classifier type is satisfied by every zoo model', () => {
  const m: Classifier = buildModel('resnet8', { inChannels: 3, numClasses: 10 });
  assert.ok(m.featureLayer instanceof Module && m.blocks.every((b) => b instanceof Module));
  assert.ok(m.namedModules().some(([, x]) => x === m.featureLayer));
  m.dispose();
});

test('model families: a student of the teacher family is suggested only where the zoo has one and the student is of another', () => {
  assert.equal(modelFamily('resnet8-half'), 'resnet');
  assert.equal(modelFamily('wrn-16-1'), 'wrn');
  assert.equal(modelFamily('lenet5'), 'lenet');
  assert.equal(familyStudentFor('resnet8', 'lenet5-half'), 'resnet8-half');
  assert.equal(familyStudentFor('resnet34', 'lenet5'), 'resnet8-half');
  assert.equal(familyStudentFor('lenet5', 'resnet8-half'), 'lenet5-half');
  assert.equal(familyStudentFor('resnet20', 'resnet8-half'), undefined, 'same family');
  assert.equal(familyStudentFor('vgg5', 'lenet5-half'), 'vgg5-small');
  assert.equal(familyStudentFor('wrn-16-2', 'lenet5-half'), undefined, 'no small WideResNet student in the zoo');
  for (const s of ['lenet5-half', 'resnet8-half', 'vgg5-small']) assert.equal(getModel(s).kind, 'classifier', `${s} is in the zoo`);
});

test("the default student is the teacher family's, else lenet5-half", () => {
  assert.equal(defaultStudentFor('resnet8'), 'resnet8-half');
  assert.equal(defaultStudentFor('resnet18'), 'resnet8-half');
  assert.equal(defaultStudentFor('lenet5'), 'lenet5-half');
  assert.equal(defaultStudentFor('vgg11'), 'vgg5-small');
  assert.equal(defaultStudentFor('wrn-16-2'), 'lenet5-half', 'no small WideResNet student in the zoo');
});

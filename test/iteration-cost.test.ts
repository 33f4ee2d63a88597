/**
 * The iteration-cost changes (issue 16): the student step reuses the selection logits instead of
 * running the teacher again, and the BN-statistics hooks exist only during the forward that needs
 * them. Both must leave the method's results deterministic.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveConfig, PartialConfig } from '../src/distill/config';
import type { TaDfkdConfig } from '../src/distill/methods/ta-dfkd';
import { createMethod, TADFKD } from '../src/distill/methods';
import { Normalizer } from '../src/distill/synthesizer';
import { loadTeacher } from '../src/train/teacher';
import { buildModel } from '../src/models';
import { manualSeed, Tensor, tidy, noGrad, randn } from '../src/tensor';
import { ReLU, LeakyReLU } from '../src/nn';
import { tinyTeacher, TINY } from './helpers/distill-fixtures';

function setup(over: PartialConfig = {}): { method: TADFKD; teacher: ReturnType<typeof loadTeacher>['model']; dispose: () => void } {
  const { model: teacher } = loadTeacher(tinyTeacher());
  const cfg = resolveConfig('ta-dfkd', 'mnist', { ...TINY, ...over });
  manualSeed(cfg.seed);
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
  const norm = new Normalizer([0.1307], [0.3081]);
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm, numClasses: 10, channels: 1, imageSize: 32, contentSize: 28 }) as TADFKD;
  // As the trainer does before the first step: the anchors (TINY's small ones) are inverted here, not in a counted step.
  method.warmup();
  return {
    method,
    teacher,
    dispose: () => {
      method.dispose();
      student.dispose();
      teacher.dispose();
      norm.dispose();
    },
  };
}

/** Counts the teacher forwards of `fn`. */
function teacherCalls(teacher: { call(x: Tensor): Tensor }, fn: () => void): number {
  const orig = teacher.call;
  let n = 0;
  teacher.call = function (this: unknown, x: Tensor): Tensor {
    n += 1;
    return orig.call(this, x);
  };
  try {
    fn();
  } finally {
    delete (teacher as { call?: unknown }).call;
  }
  return n;
}

test('a TA-DFKD student step runs the teacher once per draw (the selection logits are the targets), plus once on the mixes with tadfkd.mixup and once on the augmented anchor rows (the default; TINY inherits it)', () => {
  for (const mixup of [false, 0.5] as const) {
    const s = setup({ tadfkd: { ...(TINY.tadfkd as object), mixup } });
    try {
      for (let i = 0; i < 4; i++) {
        let draws = 0;
        const calls = teacherCalls(s.teacher, () => (draws = s.method.studentStep().draws));
        assert.ok(draws >= 1);
        assert.equal(calls, draws + (mixup ? 1 : 0) + 1, `mixup ${mixup}, step ${i}: ${calls} teacher forwards for ${draws} draw(s)`);
      }
    } finally {
      s.dispose();
    }
  }
});

test('anchors as inverted (tadfkd.anchors.augment false) add no teacher forward to a student step: their logits are stored', () => {
  const ta = TINY.tadfkd as { anchors: object };
  const s = setup({ tadfkd: { ...ta, mixup: false, anchors: { ...ta.anchors, augment: false } } as PartialConfig['tadfkd'] });
  try {
    let draws = 0;
    const calls = teacherCalls(s.teacher, () => (draws = s.method.studentStep().draws));
    assert.equal(calls, draws);
  } finally {
    s.dispose();
  }
});

test("selection.targets 'recompute' runs the teacher again on the kept samples", () => {
  const s = setup({ selection: { targets: 'recompute' } });
  try {
    let draws = 0;
    const calls = teacherCalls(s.teacher, () => (draws = s.method.studentStep().draws));
    assert.equal(calls, draws + 1);
  } finally {
    s.dispose();
  }
});

test('without selection.targets the config has no such key (config hashes of earlier runs are unchanged)', () => {
  const cfg = resolveConfig('ta-dfkd', 'mnist', TINY) as TaDfkdConfig;
  assert.equal('targets' in cfg.selection, false);
});

test('the BN-statistics hooks exist only during the generator step and still give the BN loss', () => {
  const s = setup();
  try {
    assert.equal(s.teacher.hasForwardHooks(), false, 'the teacher has forward hooks outside the generator step');
    s.method.studentStep();
    const log = s.method.generatorStep();
    assert.ok(Number.isFinite(log.bn) && log.bn > 0, `BN loss ${log.bn}`);
    assert.equal(s.teacher.hasForwardHooks(), false, 'hooks left behind after the generator step');
  } finally {
    s.dispose();
  }
});

test('the same seed gives bit-identical students and generators', () => {
  const run = (): Float32Array[] => {
    const s = setup();
    try {
      for (let i = 0; i < 2; i++) {
        for (let k = 0; k < 3; k++) s.method.studentStep();
        s.method.generatorStep();
      }
      return [...s.method.student.parameters(), ...s.method.synth.generator.parameters()].map((p) => p.toFloat32Array());
    } finally {
      s.dispose();
    }
  };
  const a = run();
  const b = run();
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `tensor ${i} differs`);
});

test('ReLU(true) and LeakyReLU(slope, true) overwrite their input without autograd (same values as the out-of-place ops) and leave it alone with autograd', () => {
  tidy(() => {
    manualSeed(0);
    for (const [layer, ref] of [
      [new ReLU(true), (x: Tensor) => x.relu()],
      [new LeakyReLU(0.2, true), (x: Tensor) => x.leakyRelu(0.2)],
    ] as const) {
      const x = randn([4, 3, 5, 5]);
      const want = ref(x).toFloat32Array();
      const y = noGrad(() => layer.call(x));
      assert.deepEqual(y.toFloat32Array(), want, `${layer.constructor.name}: values`);
      assert.deepEqual(x.toFloat32Array(), want, `${layer.constructor.name}: without autograd the input is overwritten`);
      const leaf = randn([4, 3, 5, 5]).requiresGrad_(true);
      const before = leaf.toFloat32Array();
      const z = layer.call(leaf.mul(1));
      z.sum().backward();
      assert.deepEqual(leaf.toFloat32Array(), before, `${layer.constructor.name}: with autograd the input is untouched`);
      const negSlope = layer instanceof LeakyReLU ? 0.2 : 0;
      const wantGrad = before.map((v) => (v > 0 ? 1 : negSlope));
      assert.deepEqual(leaf.grad!.toFloat32Array(), wantGrad, `${layer.constructor.name}: gradient`);
    }
  });
});

test('the zoo teachers give the same logits with and without autograd (in-place activations only without it)', () => {
  tidy(() => {
    for (const arch of ['lenet5', 'resnet8', 'vgg5']) {
      manualSeed(1);
      const m = buildModel(arch, { inChannels: 1, numClasses: 10, imageSize: 32 });
      m.eval();
      const x = randn([8, 1, 32, 32]);
      const withGrad = m.call(x).toFloat32Array();
      const without = noGrad(() => m.call(x)).toFloat32Array();
      assert.deepEqual(without, withGrad, arch);
      m.dispose();
    }
  });
});

/**
 * The TA-DFKD options of issue 18 (config `tadfkd`, all off by default): the scale-free BN loss, the
 * mean over BN layers, the generator warm-up, the student augmentation, the generator-step jitter and the
 * replay buffer.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { runDistill, runConfigHash } from '../src/distill/run';
import { resolveConfig } from '../src/distill/config';
import { bnStatLoss, bnStatLossStd, withinClassSimilarity } from '../src/distill/losses';
import { gradcheck } from './helpers/gradcheck';
import { BNStatsHook, type BNLossOptions } from '../src/distill/bn-hook';
import { augmentBatch, mixupTail } from '../src/distill/augment';
import { ReplayBuffer } from '../src/distill/replay';
import { AnchorSet } from '../src/distill/anchors';
import { synthesizeProbe } from '../src/distill/probe';
import { teacherProbe } from '../src/distill/probe-trust';
import { loadTeacher } from '../src/train/teacher';
import { Normalizer } from '../src/distill/synthesizer';
import { createMethod } from '../src/distill/methods';
import { tensor, tidy, noGrad, manualSeed, randn } from '../src/tensor';
import { buildModel } from '../src/models';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';
import { studentWeights, assertChangesRunAndResumesExactly } from './helpers/resume';

/** TINY's tadfkd section (no warm-up, 20 anchors): a test's own tadfkd options go on top of it. */
const TINY_TA = TINY.tadfkd as Record<string, unknown>;
import type { TaDfkdConfig } from '../src/distill/methods/ta-dfkd';
import type { GeneratorMethod } from '../src/distill/method';

const quiet = { onWarn: () => undefined };

test("bnStatLossStd on a hand-computed example: mean difference over the running std, variance ratio minus 1, RMS over channels", () => {
  tidy(() => {
    // Two samples, two channels: batch mean [2, 6], biased batch variance [1, 4].
    const x = tensor(Float32Array.from([1, 4, 3, 8]), [2, 2]);
    const rm = tensor(Float32Array.from([1, 2]), [2]);
    const rv = tensor(Float32Array.from([4, 1]), [2]);
    // dm = [(2-1)/2, (6-2)/1] = [0.5, 4]; dv = [1/4 - 1, 4/1 - 1] = [-0.75, 3].
    const want = (Math.hypot(0.5, 4) + Math.hypot(-0.75, 3)) / Math.SQRT2;
    assert.ok(Math.abs(bnStatLossStd(x, rm, rv, 0).item() - want) < 1e-5, `got ${bnStatLossStd(x, rm, rv, 0).item()}, want ${want}`);
    // The paper's raw term on the same numbers: ||[1, 4]|| + ||[-3, 3]||.
    assert.ok(Math.abs(bnStatLoss(x, rm, rv).item() - (Math.hypot(1, 4) + Math.hypot(3, 3))) < 1e-5);
  });
});

test('bnStatLossStd does not change when activations are rescaled; the raw term grows with the scale', () => {
  tidy(() => {
    manualSeed(1);
    const x = randn([16, 3, 4, 4]);
    const rm = randn([3]);
    const rv = randn([3]).abs().add(0.5);
    const k = 7;
    const std1 = bnStatLossStd(x, rm, rv, 0).item();
    const stdK = bnStatLossStd(x.mul(k), rm.mul(k), rv.mul(k * k), 0).item();
    assert.ok(Math.abs(std1 - stdK) < 1e-4 * std1, `${std1} vs ${stdK}`);
    const raw1 = bnStatLoss(x, rm, rv).item();
    const rawK = bnStatLoss(x.mul(k), rm.mul(k), rv.mul(k * k)).item();
    assert.ok(rawK > 5 * raw1, `raw term should grow with the scale: ${raw1} -> ${rawK}`);
  });
});

/**
 * The BN-statistics loss and the logged per-layer terms of one ResNet-8 forward (9 BN layers, seed 0) under
 * each of `options`, all on the same input.
 */
function resnet8BnLosses(...options: BNLossOptions[]): { loss: number; perLayer: number[] }[] {
  return tidy(() =>
    noGrad(() => {
      manualSeed(0);
      const model = buildModel('resnet8', { inChannels: 1, numClasses: 10, imageSize: 32 });
      model.eval();
      const x = randn([8, 1, 32, 32]);
      const out = options.map((o) => {
        const hook = new BNStatsHook(model, o);
        const loss = hook.capture(() => model.call(x)).loss.item();
        const perLayer = hook.perLayer();
        hook.remove();
        return { loss, perLayer };
      });
      model.dispose();
      return out;
    }),
  );
}

test("BNStatsHook with layers 'mean' divides the summed per-layer terms by the number of BN layers", () => {
  const [sum, mean] = resnet8BnLosses({}, { layers: 'mean' });
  const sumLoss = sum.loss;
  assert.equal(sum.perLayer.length, 9);
  assert.ok(Math.abs(sum.perLayer.reduce((a, b) => a + b, 0) - sumLoss) < 1e-3 * sumLoss);
  assert.ok(Math.abs(mean.loss - sumLoss / 9) < 1e-4 * sumLoss, `${mean.loss} vs ${sumLoss / 9}`);
});

test("BNStatsHook with first k multiplies the first BN layer's term by k and leaves the others", () => {
  const [plain, first] = resnet8BnLosses({}, { first: 10 });
  const per = plain.perLayer;
  assert.deepEqual(first.perLayer, per, 'the logged per-layer terms stay unscaled');
  const want = plain.loss + 9 * per[0];
  assert.ok(per[0] > 1e-3 * plain.loss, 'the first term should be large enough for the test to tell');
  assert.ok(Math.abs(first.loss - want) < 1e-4 * want, `${first.loss} vs ${want}`);
});

test('augmentBatch: a crop moves a pixel by at most the padding and fills the border; a flip mirrors', () => {
  tidy(() => {
    manualSeed(3);
    const n = 32;
    const img = new Float32Array(n * 8 * 8).fill(0);
    for (let i = 0; i < n; i++) img[i * 64 + 3 * 8 + 4] = 1; // one bright pixel at (3, 4)
    const x = tensor(img, [n, 1, 8, 8]);
    const fill = tensor(Float32Array.from([-0.5]), [1, 1, 1, 1]);
    const out = augmentBatch(x, { crop: 2, flip: false }, fill).toFloat32Array();
    const offsets = new Set<string>();
    for (let i = 0; i < n; i++) {
      const s = out.subarray(i * 64, (i + 1) * 64);
      const at = s.indexOf(1);
      assert.ok(at >= 0, `sample ${i}: the bright pixel was cropped away with padding 2`);
      const [r, c] = [Math.floor(at / 8), at % 8];
      assert.ok(Math.abs(r - 3) <= 2 && Math.abs(c - 4) <= 2, `sample ${i}: pixel moved to (${r}, ${c})`);
      offsets.add(`${r},${c}`);
      for (const v of s) assert.ok(v === 0 || v === 1 || v === -0.5, `unexpected value ${v}`);
    }
    assert.ok(offsets.size > 3, 'offsets should vary across samples');
    const flipped = augmentBatch(x, { crop: 0, flip: true }, fill).toFloat32Array();
    let mirrored = 0;
    for (let i = 0; i < n; i++) {
      const at = flipped.subarray(i * 64, (i + 1) * 64).indexOf(1);
      assert.ok(at === 3 * 8 + 4 || at === 3 * 8 + 3, `sample ${i}: pixel at ${at}`);
      if (at === 3 * 8 + 3) mirrored += 1;
    }
    assert.ok(mirrored > 0 && mirrored < n, `flip should be random per sample (${mirrored} of ${n} flipped)`);
  });
});

test('augmentBatch passes gradients: each output pixel taken from x sends 1 back to its source, padding sends none', () => {
  tidy(() => {
    manualSeed(4);
    const x = randn([6, 1, 5, 5]).requiresGrad_(true);
    const fill = tensor(Float32Array.from([-0.5]), [1, 1, 1, 1]);
    augmentBatch(x, { crop: 0, flip: true }, fill).sum().backward();
    assert.ok(x.grad!.toFloat32Array().every((g) => g === 1), 'a flip is a permutation: every pixel gets gradient 1');
    const y = randn([6, 1, 5, 5]).requiresGrad_(true);
    augmentBatch(y, { crop: 2, flip: true }, fill).sum().backward();
    const g = y.grad!.toFloat32Array();
    assert.ok(g.every((v) => v === 0 || v === 1), 'a cropped pixel is used once or not at all');
    assert.ok(g.some((v) => v === 0) && g.some((v) => v === 1), 'random offsets of up to 2 pixels crop some source pixels away');
  });
});

test('the generator-step jitter (tadfkd.jitter) is validated, changes the run and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { jitter: { crop: -1, flip: true } } }), /tadfkd\.jitter\.crop/);
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, jitter: { crop: 2, flip: true } } }, 'ta-jit');
});

test('the replay buffer (tadfkd.replay) is validated, mixes replayed samples into student batches, changes the run and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { replay: { size: 0, fresh: 0.5 } } }), /tadfkd\.replay\.size/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { replay: { size: 64, fresh: 0 } } }), /tadfkd\.replay\.fresh/);
  // Batch 32, half fresh: the first student step fills the buffer, every later one replays 16 of 32 samples.
  const full = await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay: { size: 48, fresh: 0.5 }, anchors: false } }, 'ta-replay', { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay: false, anchors: false } });
  const lines = fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Each log line holds the mean over the 4 student steps since the last one: only the very first step
  // (empty buffer) is all fresh.
  assert.deepEqual(lines.map((l) => l.losses.replayed), [0.375, 0.5]);
});

test('withinClassSimilarity: mean cosine over same-class pairs i != j on a hand example; 0 with no pair; gradient matches finite differences', () => {
  tidy(() => {
    // Classes (argmax): 0, 0, 1, 0. Same-class pairs (unordered): (0,1) cos 0, (0,3) cos 1/sqrt2, (1,3) cos 1/sqrt2.
    const f = tensor([1, 0, 0, 1, 5, 5, 2, 2], [4, 2]);
    const t = tensor([3, 1, 2, 0, 0, 9, 4, 1], [4, 2]);
    const v = withinClassSimilarity(f, t).item();
    assert.ok(Math.abs(v - (0 + 2 / Math.SQRT2) / 3) < 1e-6, `got ${v}`);
    // Every sample in its own class: no pair, the term is 0.
    assert.equal(withinClassSimilarity(tensor([1, 0, 0, 1], [2, 2]), tensor([1, 0, 0, 1], [2, 2])).item(), 0);
    const x = randn([6, 5], 'float64').requiresGrad_(true);
    const logits = tensor([1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 2, 3], [6, 2], 'float64');
    const r = gradcheck((a) => withinClassSimilarity(a, logits), [x]);
    assert.equal(r.checked, 30);
  });
});

test('the within-class diversity term (tadfkd.diversity) is validated, logged, changes the run and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { diversity: -1 } }), /tadfkd\.diversity/);
  const dir = await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 2, diversity: 1 } }, 'ta-div', { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 2 } });
  const lines = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const d = lines.map((l) => l.losses.diversity);
  assert.ok(d.every((v) => Number.isFinite(v) && v >= -1 && v <= 1), `diversity logged in [-1, 1]: ${d}`);
});

test('anchors (tadfkd.anchors) are validated, made once and logged with the warm-up, change the run and resume bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { n: 16, share: 1 } } }), /tadfkd\.anchors\.share/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { n: 0, share: 0.25 } } }), /tadfkd\.anchors\.n/);
  const teacherDir = tinyTeacher('lenet5');
  const cached = () => fs.readdirSync(teacherDir).filter((f) => /^anchors-.*\.safetensors$/.test(f));
  const before = cached();
  // The first run inverts the anchors and caches them beside the teacher; the split run and its resume
  // load them: the bit-identical ending shows cached anchors are the inverted ones.
  const dir = await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 1, anchors: { n: 20, share: 0.25, steps: 4 } } }, 'ta-anchor', { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 1, anchors: false } });
  assert.equal(cached().length, before.length + 1, 'the anchors are cached in the teacher directory');
  const first = JSON.parse(fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').split('\n')[0]);
  assert.ok(first.losses.anchors_sec > 0, 'the time spent on the anchors is logged');
  assert.ok(first.losses.anchors_target_hit >= 0 && first.losses.anchors_target_hit <= 1, `target hit in [0, 1]: ${first.losses.anchors_target_hit}`);
});

test('anchor augmentation (tadfkd.anchors.augment, on by default) is validated, changes the run against anchors as inverted and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { n: 16, share: 0.25, augment: { crop: -1, flip: true } } } }), /tadfkd\.anchors\.augment\.crop/);
  const anchors = { n: 20, share: 0.25, steps: 3 };
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, anchors: { ...anchors, augment: { crop: 2, flip: true } } } }, 'ta-anchor-aug', { ...TINY, tadfkd: { ...TINY_TA, anchors: { ...anchors, augment: false } } });
});

test("the anchors' inversion schedule (tadfkd.anchors.lrSchedule): validated; cosine decays the learning rate from its first step, so one step equals constant and two differ; absent keeps the cache name", () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { n: 16, share: 0.25, lrSchedule: 'linear' } } } as never), /tadfkd\.anchors\.lrSchedule/);
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { lrSchedule: 'cosine' } } }) as TaDfkdConfig;
  assert.equal(cfg.tadfkd?.anchors && cfg.tadfkd.anchors.lrSchedule, 'cosine', 'a partial anchors section merges into the defaults');
  tidy(() => {
    manualSeed(0);
    const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
    teacher.eval();
    const shape = { channels: 1, imageSize: 32, numClasses: 10 };
    const images = (steps: number, lrSchedule?: 'constant' | 'cosine') => synthesizeProbe(teacher, shape, { n: 6, batchSize: 6, steps, seed: 2, lrSchedule }).toFloat32Array();
    assert.deepEqual(images(1, 'cosine'), images(1), 'the first step runs at the full learning rate');
    assert.notDeepEqual(images(2, 'cosine'), images(2), 'the second step runs at half of it (cos(pi/2))');
    assert.deepEqual(images(2, 'constant'), images(2), "'constant' is the default");
  });
  const teacherDir = tinyTeacher('lenet5');
  const loaded = { ...loadTeacher(teacherDir), dir: teacherDir };
  const name = (o: object) => path.basename(teacherProbe(loaded, { n: 4, steps: 1, ...o }, () => undefined, undefined, 'anchors').file);
  assert.equal(name({ lrSchedule: undefined }), name({}), 'an absent schedule keeps the cache names of earlier runs');
  assert.notEqual(name({ lrSchedule: 'cosine' }), name({}), 'another schedule is another cache file');
});

test('AnchorSet: the same seed gives the same images, another seed others; samples come with the logits of the same rows', () => {
  tidy(() => {
    manualSeed(0);
    const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
    teacher.eval();
    const shape = { channels: 1, imageSize: 32, numClasses: 10 };
    const a = AnchorSet.make(teacher, shape, { n: 12, steps: 2, seed: 3 });
    const b = AnchorSet.make(teacher, shape, { n: 12, steps: 2, seed: 3 });
    const c = AnchorSet.make(teacher, shape, { n: 12, steps: 2, seed: 4 });
    try {
      manualSeed(5);
      const sa = a.sample(6);
      manualSeed(5);
      const sb = b.sample(6);
      manualSeed(5);
      const sc = c.sample(6);
      assert.deepEqual(sa.x.toFloat32Array(), sb.x.toFloat32Array());
      assert.notDeepEqual(sa.x.toFloat32Array(), sc.x.toFloat32Array());
      const t = noGrad(() => teacher.call(sa.x));
      assert.ok(t.sub(sa.t).abs().max().item() < 1e-5, "each sampled anchor's logits are the teacher's on it");
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });
});

/** A seeded LeNet-5 teacher (eval mode) and LeNet-5-half student for the anchor-refresh tests. */
function refreshPair(): { teacher: ReturnType<typeof buildModel>; student: ReturnType<typeof buildModel> } {
  manualSeed(0);
  const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  teacher.eval();
  return { teacher, student };
}

test('AnchorSet.refresh inverts the next rows further (without wrapping), keeps the others, takes their logits again and restores from its state', () => {
  tidy(() => {
    const { teacher, student } = refreshPair();
    const set = AnchorSet.make(teacher, { channels: 1, imageSize: 32, numClasses: 10 }, { n: 12, steps: 2, seed: 3 });
    const rowsOf = (s: AnchorSet) => {
      const x = s.state('a.').tensors.get('a.x')!;
      const per = x.shape[1] * x.shape[2] * x.shape[3];
      const all = x.toFloat32Array();
      return Array.from({ length: x.shape[0] }, (_, i) => all.subarray(i * per, (i + 1) * per));
    };
    try {
      const before = rowsOf(set);
      student.train();
      const log = set.refresh(teacher, student, 10, { every: 1, rows: 8, steps: 2, weight: 1 });
      assert.equal(student.training, true, "the student's mode is restored");
      assert.ok(log.anchors_refresh_sec >= 0 && log.anchors_refresh_adi >= 0 && log.anchors_refresh_adi <= 1, JSON.stringify(log));
      const after = rowsOf(set);
      for (let i = 0; i < 12; i++) assert.equal(after[i].every((v, j) => v === before[i][j]), i >= 8, `row ${i} ${i < 8 ? 'changes' : 'stays'}`);
      assert.deepEqual(set.state('a.').meta, { 'a.cursor': 8 });
      // The next refresh takes rows 8..11 only (a refresh does not wrap), then the ring starts again at 0.
      set.refresh(teacher, student, 10, { every: 1, rows: 8, steps: 1, weight: 1 });
      assert.deepEqual(set.state('a.').meta, { 'a.cursor': 0 });
      const { tensors, meta } = set.state('a.');
      const t = noGrad(() => teacher.call(tensors.get('a.x')!));
      assert.ok(t.sub(tensors.get('a.t')!).abs().max().item() < 1e-5, "the stored logits are the teacher's on the refreshed images");
      const back = AnchorSet.restore(tensors, { ...meta, 'a.cursor': 4 }, 'a.', 12)!;
      assert.deepEqual(rowsOf(back), rowsOf(set));
      assert.deepEqual(back.state('a.').meta, { 'a.cursor': 4 });
      back.dispose();
      assert.throws(() => AnchorSet.restore(tensors, meta, 'a.', 16), /tadfkd\.anchors\.n = 16/);
      assert.equal(AnchorSet.restore(new Map(), {}, 'a.', 12), undefined, 'a checkpoint without refreshed anchors gives none');
    } finally {
      set.dispose();
    }
  });
});

test("the competition term pulls refreshed anchors toward the student's disagreement: 1 - JS falls with its weight", () => {
  tidy(() => {
    const { teacher, student } = refreshPair();
    const adi = (weight: number) => {
      const set = AnchorSet.make(teacher, { channels: 1, imageSize: 32, numClasses: 10 }, { n: 16, steps: 2, seed: 3 });
      try {
        manualSeed(1);
        return set.refresh(teacher, student, 10, { every: 1, rows: 16, steps: 20, weight }).anchors_refresh_adi;
      } finally {
        set.dispose();
      }
    };
    const [none, strong] = [adi(0), adi(100)];
    assert.ok(strong < none, `weight 100 ends with 1 - JS ${strong}, below weight 0's ${none}`);
  });
});

test('a refresh that diverges keeps the anchors as they were and says so', () => {
  tidy(() => {
    const { teacher, student } = refreshPair();
    noGrad(() => student.parameters()[0].mul_(NaN));
    const set = AnchorSet.make(teacher, { channels: 1, imageSize: 32, numClasses: 10 }, { n: 8, steps: 1, seed: 3 });
    try {
      const before = set.state('a.').tensors.get('a.x')!.toFloat32Array();
      const log = set.refresh(teacher, student, 10, { every: 1, rows: 8, steps: 2, weight: 1 });
      assert.equal(log.anchors_refresh_nonfinite, 1);
      assert.deepEqual(set.state('a.').tensors.get('a.x')!.toFloat32Array(), before);
    } finally {
      set.dispose();
    }
  });
});

test('anchor refreshes (tadfkd.anchors.refresh) are validated, logged, change the run, are in checkpoints and resume bit-identically', async () => {
  const anchors = { n: 20, share: 0.25, steps: 3 };
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { ...anchors, refresh: { every: 0, rows: 8, steps: 2, weight: 1 } } } }), /tadfkd\.anchors\.refresh\.every/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { ...anchors, refresh: { every: 1, rows: 8, steps: 2, weight: -1 } } } }), /tadfkd\.anchors\.refresh\.weight/);
  // Every iteration refreshes 8 of the 20 anchors: the checkpoint after iteration 2 holds a changed set and the cursor 16.
  const refresh = { every: 1, rows: 8, steps: 2, weight: 1 };
  const dir = await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, anchors: { ...anchors, refresh } } }, 'ta-anchor-refresh', { ...TINY, tadfkd: { ...TINY_TA, anchors } });
  const lines = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.losses.anchors_refresh_sec >= 0 && Number.isFinite(l.losses.anchors_refresh_adi)), 'each evaluation logs the refreshes');
  // Every third iteration: the only refresh (iteration 3) comes after the checkpoint, so the resumed run must know how many generator steps came before it.
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, anchors: { ...anchors, refresh: { ...refresh, every: 3 } } } }, 'ta-anchor-refresh3', { ...TINY, tadfkd: { ...TINY_TA, anchors } });
});

test('mixupTail keeps the head rows and makes each tail row a convex mix of itself and one row of the batch', () => {
  tidy(() => {
    // Row i is the i-th unit vector (as a 1x2x4 image), so a mix's support names the rows it came from.
    const n = 8;
    const x = tensor(Float32Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)), [n, 1, 2, 4]);
    manualSeed(3);
    const { x: out, mixed } = mixupTail(x, 3);
    assert.deepEqual(out.shape, [n, 1, 2, 4]);
    assert.deepEqual(mixed.shape, [3, 1, 2, 4]);
    const rows = out.reshape([n, n]).toFloat32Array();
    for (let i = 0; i < n - 3; i++) for (let k = 0; k < n; k++) assert.equal(rows[i * n + k], i === k ? 1 : 0, `head row ${i} unchanged`);
    let mixedSomething = false;
    for (let i = n - 3; i < n; i++) {
      const r = Array.from(rows.slice(i * n, (i + 1) * n));
      const sum = r.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6, `row ${i} sums to 1: ${sum}`);
      assert.ok(r.every((v) => v >= 0), `row ${i} is a convex mix`);
      const support = r.map((v, k) => (v > 1e-7 ? k : -1)).filter((k) => k >= 0);
      assert.ok(support.length <= 2 && (support.includes(i) || r[i] === 0), `row ${i} mixes itself with one partner: ${r}`);
      if (support.length === 2) mixedSomething = true;
    }
    assert.ok(mixedSomething, 'at least one tail row is a mix of two rows');
    manualSeed(3);
    const again = mixupTail(x, 3).x.reshape([n, n]).toFloat32Array();
    assert.deepEqual(Array.from(again), Array.from(rows), 'seeded: the same mixes');
    assert.throws(() => mixupTail(x, 0), /m must be an integer in \[1, 8\], got 0/);
  });
});

test('mixup (tadfkd.mixup) is validated, changes the run, and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { mixup: 0 } }), /tadfkd\.mixup/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { mixup: 1.5 } }), /tadfkd\.mixup/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { mixup: true } }), /tadfkd\.mixup/);
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay: { size: 48, fresh: 0.5 }, mixup: 0.5 } }, 'ta-mix', { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay: { size: 48, fresh: 0.5 }, mixup: false } });
});

test("ReplayBuffer 'reservoir' keeps a uniform sample of everything offered, not the latest rows, and resumes its count", () => {
  manualSeed(0);
  const buf = new ReplayBuffer(50, 'reservoir');
  for (let b = 0; b < 100; b++) {
    const v = Float32Array.from({ length: 10 }, (_, i) => b * 10 + i);
    buf.add(tensor(v, [10, 1]), tensor(v, [10, 1]));
  }
  const kept = [...buf.state('r.').get('r.x')!.toFloat32Array()];
  assert.equal(new Set(kept).size, 50, 'every row holds a different sample');
  const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
  assert.ok(mean > 300 && mean < 700, `kept samples span the history (mean index ${mean}; a ring would keep 950-999)`);
  assert.equal(buf.meta('r.')['r.seen'], 1000);
  const copy = new ReplayBuffer(50, 'reservoir');
  copy.load(buf.state('r.'), buf.meta('r.'), 'r.');
  assert.deepEqual(copy.meta('r.'), buf.meta('r.'));
  buf.dispose();
  copy.dispose();
});

test('ReplayBuffer classBalance draws classes by (their rows)^(1 - b): uniform over rows at 0, over classes at 1; seeded', () => {
  // 100 rows: 90 of class 0, 9 of class 1, 1 of class 2 (the stored logits' argmax); x holds the class.
  const cls = Array.from({ length: 100 }, (_, i) => (i < 90 ? 0 : i < 99 ? 1 : 2));
  const logits = new Float32Array(300);
  cls.forEach((c, i) => (logits[i * 3 + c] = 5));
  const shares = (b: number, seed = 0): number[] => {
    manualSeed(seed);
    const buf = new ReplayBuffer(100, 'ring', undefined, b);
    buf.add(tensor(Float32Array.from(cls), [100, 1]), tensor(logits, [100, 3]));
    assert.deepEqual(buf.classRows().map((r) => r.length), [90, 9, 1]);
    const { x, t } = buf.sample(6000);
    const xs = x.toFloat32Array();
    const ts = t.reshape([6000, 3]).toFloat32Array();
    xs.forEach((c, k) => assert.equal(ts[k * 3 + c], 5, 'each replayed sample keeps its own logits'));
    x.dispose();
    t.dispose();
    buf.dispose();
    return [0, 1, 2].map((c) => xs.filter((v) => v === c).length / 6000);
  };
  const near = (got: number[], want: number[]): void => got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 0.03, `shares ${got.map((v) => v.toFixed(3))}, expected ${want.map((v) => v.toFixed(3))}`));
  near(shares(0), [0.9, 0.09, 0.01]);
  near(shares(1), [1 / 3, 1 / 3, 1 / 3]);
  const w = [90, 9, 1].map((c) => Math.sqrt(c));
  near(shares(0.5), w.map((v) => v / (w[0] + w[1] + w[2])));
  assert.deepEqual(shares(1, 7), shares(1, 7), 'the same seed draws the same rows');
  assert.throws(() => new ReplayBuffer(10, 'ring', undefined, 1.5), /classBalance must be in \[0, 1\], got 1.5/);
});

test('class-balanced replay (tadfkd.replay.classBalance) is validated, changes the run and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { replay: { size: 64, fresh: 0.5, classBalance: 2 } } }), /tadfkd\.replay\.classBalance/);
  const replay = { size: 48, fresh: 0.5 };
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay: { ...replay, classBalance: 1 } } }, 'ta-balance', { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 0, replay } });
});

test('generator restarts (tadfkd.restartEvery) are validated, logged, change the run and resume bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { restartEvery: 0 } }), /tadfkd\.restartEvery/);
  // restartEvery 2: a restart after iterations 2 and 4, so each 2-iteration log line sees one.
  const cfg = { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 2, restartEvery: 2, replay: { size: 64, fresh: 0.5 } } };
  const full = await assertChangesRunAndResumesExactly(cfg, 'ta-restart');
  const lines = fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.losses.restart > 0), `each 2-iteration log line includes a restart: ${lines.map((l) => l.losses.restart)}`);
});

test('a companion generator (tadfkd.companion) is validated, trains beside the main one, is in checkpoints and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { companion: { share: 1, bn: 1 } } }), /tadfkd\.companion\.share/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { companion: { share: 0.5 } } }), /tadfkd\.companion\.bn/);
  const companion = { share: 0.5, bn: 1, bnFirst: 10, jitter: { crop: 2, flip: true } };
  const cfg = { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 2, replay: { size: 64, fresh: 0.5 }, companion } };
  const full = await assertChangesRunAndResumesExactly(cfg, 'ta-companion', { ...cfg, tadfkd: { ...cfg.tadfkd, companion: undefined } });
  const lines = fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.losses.c_bn > 0 && l.losses.c_loss_g !== undefined), `the companion's loss terms are logged: ${JSON.stringify(lines[0].losses)}`);
  assert.notEqual(lines[0].losses.c_bn, lines[0].losses.bn, 'the two generators are different generators');
});

test("the companion's weights are in synthWeights and checkpoints under companion.*", () => {
  manualSeed(0);
  const teacher = buildModel('resnet8', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const tadfkd = { warmupSteps: 0, replay: false as const, companion: { share: 0.25, bn: 1 }, anchors: false as const };
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist', { batchSize: 16, studentSteps: 2, generator: { width: 8, nz: 16 }, tadfkd }) as TaDfkdConfig;
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm: new Normalizer([0.5], [0.5]), numClasses: 10, channels: 1, imageSize: 32, contentSize: 28 });
  try {
    const log = method.generatorStep();
    assert.ok(log.c_bn > 0 && log.bn > 0, JSON.stringify(log));
    const weights = [...method.synthWeights().keys()];
    const main = weights.filter((k) => !k.startsWith('companion.'));
    assert.deepEqual(weights.filter((k) => k.startsWith('companion.')).map((k) => k.slice('companion.'.length)), main, 'the companion has the main generator\'s tensors');
    assert.ok(Object.keys(method.synthMeta()).includes('companion.expectedRate'));
    assert.ok(method.studentStep().loss_s >= 0);
  } finally {
    method.dispose();
    teacher.dispose();
    student.dispose();
  }
});

test('the per-class selection floor (selection.classFloor) is validated, changes the run and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { selection: { classFloor: 1.5 } }), /selection\.classFloor/);
  assert.equal((resolveConfig('ta-dfkd', 'fashion-mnist') as TaDfkdConfig).selection.classFloor, undefined, 'absent by default (the paper)');
  await assertChangesRunAndResumesExactly({ ...TINY, selection: { classFloor: 0.9 } }, 'ta-floor');
});

test('ReplayBuffer: a ring that overwrites its oldest rows, samples only filled rows, and restores from its state', () => {
  const buf = new ReplayBuffer(4);
  const rows = (vals: number[]) => tensor(vals.flatMap((v) => [v, v]), [vals.length, 2]);
  buf.add(rows([1, 2, 3]), rows([10, 20, 30]));
  assert.equal(buf.count, 3);
  const s = buf.sample(200);
  assert.ok(s.x.toFloat32Array().every((v) => v === 1 || v === 2 || v === 3), 'only filled rows are drawn');
  assert.ok([...s.x.toFloat32Array()].every((v, i) => s.t.toFloat32Array()[i] === v * 10), 'a sample keeps its own logits');
  buf.add(rows([4, 5]), rows([40, 50]));
  assert.equal(buf.count, 4);
  const st = buf.state('r.');
  assert.deepEqual([...st.get('r.x')!.toFloat32Array()].filter((_, i) => i % 2 === 0), [5, 2, 3, 4], 'row 0 (the oldest) is overwritten');
  const copy = new ReplayBuffer(4);
  copy.load(st, buf.meta('r.'), 'r.');
  assert.deepEqual([...copy.state('r.').get('r.t')!.toFloat32Array()], [...st.get('r.t')!.toFloat32Array()]);
  assert.deepEqual(copy.meta('r.'), { 'r.filled': 4, 'r.next': 1, 'r.seen': 5 });
  assert.throws(() => new ReplayBuffer(2).load(st, buf.meta('r.'), 'r.'), /replay buffer has 4 rows .*the config says tadfkd\.replay\.size = 2/);
  for (const t of [s.x, s.t]) t.dispose();
  buf.dispose();
  copy.dispose();
});

test("the NaN guard's synthWeights hold the generator and its optimiser but not the replay buffer's samples, which synthState (checkpoints) holds", () => {
  manualSeed(0);
  const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist', { batchSize: 16, studentSteps: 2, generator: { width: 8, nz: 16 }, tadfkd: { anchors: false } }) as TaDfkdConfig;
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm: new Normalizer([0.5], [0.5]), numClasses: 10, channels: 1, imageSize: 32, contentSize: 28 });
  try {
    method.studentStep();
    method.generatorStep();
    const state = [...method.synthState().keys()];
    const weights = [...method.synthWeights().keys()];
    assert.ok(state.includes('replay.x') && state.includes('replay.t'), `checkpoint state: ${state.join(', ')}`);
    assert.deepEqual(weights, state.filter((k) => !k.startsWith('replay.')));
    assert.ok(weights.some((k) => k.startsWith('generator.')) && weights.some((k) => k.startsWith('optG.')), weights.join(', '));
  } finally {
    method.dispose();
    teacher.dispose();
    student.dispose();
  }
});

test("by default the tadfkd section holds the warm-up (100 steps), the replay buffer, mixup 0.5 and anchors; each can be turned off; bad values name the field", () => {
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist') as TaDfkdConfig;
  const anchors = { n: 1024, share: 0.25, augment: { crop: 2, flip: true } };
  assert.deepEqual(cfg.tadfkd, { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: 0.5, anchors });
  const noMix = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { mixup: false } }) as TaDfkdConfig;
  assert.deepEqual(noMix.tadfkd, { warmupSteps: 100, replay: { size: 8192, fresh: 0.5 }, mixup: false, anchors }, 'a partial tadfkd section merges into the defaults');
  const noAnchors = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: false } }) as TaDfkdConfig;
  assert.equal(noAnchors.tadfkd?.anchors, false);
  assert.notEqual(runConfigHash(cfg, 'sha', 'lenet5-half'), runConfigHash(noAnchors, 'sha', 'lenet5-half'), 'the anchors are part of the run identity');
  const fewer = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { anchors: { share: 0.5 } } }) as TaDfkdConfig;
  assert.deepEqual(fewer.tadfkd?.anchors, { n: 1024, share: 0.5, augment: { crop: 2, flip: true } }, 'a partial anchors section merges into the defaults');
  assert.notEqual(runConfigHash(cfg, 'sha', 'lenet5-half'), runConfigHash(noMix, 'sha', 'lenet5-half'), 'mixup is part of the run identity');
  assert.equal(cfg.studentLoss, 'l1', "the paper's student loss (KL at T=4 was tried and left off)");
  const noReplay = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { replay: false } }) as TaDfkdConfig;
  assert.equal(noReplay.tadfkd?.replay, false);
  assert.notEqual(runConfigHash(cfg, 'sha', 'lenet5-half'), runConfigHash(noReplay, 'sha', 'lenet5-half'), 'the replay buffer is part of the run identity');
  const off = resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { warmupSteps: 0 } });
  assert.notEqual(runConfigHash(cfg, 'sha', 'lenet5-half'), runConfigHash(off, 'sha', 'lenet5-half'), 'the warm-up is part of the run identity');
  assert.equal('tadfkd' in resolveConfig('dafl', 'fashion-mnist'), false, "other methods' configs have no tadfkd section");
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { bnScale: 'rms' } }), /tadfkd\.bnScale/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { warmupSteps: -1 } }), /tadfkd\.warmupSteps/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { bnFirst: 0 } }), /tadfkd\.bnFirst/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { balance: -1 } }), /tadfkd\.balance/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { adversarial: 'kl' } }), /tadfkd\.adversarial/);
});

test('the shipped paper recipe (configs/methods/ta-dfkd-paper.json) is a valid TA-DFKD config', () => {
  const file = path.join(__dirname, '..', '..', 'configs', 'methods', 'ta-dfkd-paper.json');
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist', JSON.parse(fs.readFileSync(file, 'utf8'))) as TaDfkdConfig;
  assert.equal(cfg.student.lr, 0.01);
  assert.equal(cfg.generator.width, 128);
  assert.equal(cfg.selection.bnOn, 'selected');
  assert.deepEqual(cfg.tadfkd?.augment, { crop: 4, flip: true });
  assert.equal(cfg.tadfkd?.warmupSteps, 0, 'the paper has no generator warm-up');
  assert.equal(cfg.tadfkd?.replay, false, 'nor a replay buffer');
  assert.equal(cfg.tadfkd?.mixup, false, 'nor mixup');
  assert.equal(cfg.tadfkd?.anchors, false, 'nor anchors');
  assert.equal(cfg.studentLoss, 'l1', 'the paper trains the student with L1 on logits');
});

test('generator warm-up and student augmentation change the run, log the warm-up, and resume bit-identically', async () => {
  const cfg = { ...TINY, tadfkd: { ...TINY_TA, warmupSteps: 3, balance: 5, augment: { crop: 2, flip: true } } };
  const full = await assertChangesRunAndResumesExactly(cfg, 'ta-opts');
  const first = JSON.parse(fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').split('\n')[0]);
  assert.ok(Number.isFinite(first.losses.warmup_bn) && first.losses.warmup_bn > 0, 'the warm-up BN loss is logged');
  assert.ok(!('warmup_adv' in first.losses), 'no adversarial term during the warm-up');
  assert.ok(first.losses.balance <= 0 && first.losses.balance >= -1 - 1e-6, `balance term in [-1, 0]: ${first.losses.balance}`);
  assert.ok(Number.isFinite(first.losses.warmup_balance), 'the balance term acts during the warm-up');
});

test('without a BN term (weights.bn 0) the default warm-up is skipped, and the first log line says so', async () => {
  const teacherDir = tinyTeacher('lenet5');
  const out = path.join(tmpDir('ta-nobn'), 'run');
  const cfg = { ...TINY, weights: { bn: 0 }, tadfkd: { ...TINY_TA, warmupSteps: 2 } };
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out, ...quiet });
  const first = JSON.parse(fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').split('\n')[0]);
  assert.equal(first.losses.warmup_skipped_no_bn, 1);
  assert.ok(!('warmup_bn' in first.losses));
});

test('the adversarial option l1 replaces the JS term by -mean|S - T| (logged negative), and changes the run', async () => {
  const teacherDir = tinyTeacher('lenet5');
  const a = path.join(tmpDir('ta-js'), 'run');
  const b = path.join(tmpDir('ta-l1'), 'run');
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: TINY, out: a, ...quiet });
  await runDistill({ teacherDir, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: { ...TINY, tadfkd: { ...TINY_TA, adversarial: 'l1' } }, out: b, ...quiet });
  const advOf = (dir: string): number[] => fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).losses.adv as number);
  assert.ok(advOf(a).every((v) => v > 0.9 && v <= 1), `JS term 1 - JS in (0.9, 1]: ${advOf(a)}`);
  assert.ok(advOf(b).every((v) => v < 0), `l1 term is a negated distance: ${advOf(b)}`);
  const wa = studentWeights(a);
  const wb = studentWeights(b);
  assert.ok(wa.some((t, i) => t.some((v, j) => v !== wb[i][j])), 'the option changes the trained student');
});

test("TA-DFKD's generator learning rate 1e-2 overrides the dataset preset's 1e-3 for TA-DFKD only; a config file, a flag and a resumed record still set it", () => {
  const lr = (method: string, ds: string, ...layers: Record<string, unknown>[]): number => (resolveConfig(method, ds, ...layers) as TaDfkdConfig).generator.lr;
  for (const ds of ['fashion-mnist', 'mnist', 'cifar10']) {
    assert.equal(lr('ta-dfkd', ds), 1e-2, ds);
    for (const m of ['dafl', 'dfad']) assert.equal(lr(m, ds), 1e-3, `${m} on ${ds}`);
  }
  assert.equal(lr('ta-dfkd', 'fashion-mnist', { generator: { lr: 1e-3 } }), 1e-3);
  assert.equal(lr('ta-dfkd', 'fashion-mnist', {}, { generator: { lr: 3e-3 } }), 3e-3);
  const paper = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'configs', 'methods', 'ta-dfkd-paper.json'), 'utf8'));
  assert.equal(lr('ta-dfkd', 'fashion-mnist', paper), 1e-3, "the paper's recipe keeps the paper's 1e-3");
  // A run recorded before this default resumes with the rate it started with.
  const recorded = { ...resolveConfig('ta-dfkd', 'fashion-mnist'), generator: { nz: 256, width: 32, lr: 1e-3 } };
  assert.equal(lr('ta-dfkd', 'fashion-mnist', {}, {}, recorded), 1e-3);
});

test("the generator's cosine schedule (tadfkd.generatorSchedule) sets the rate the student's cosine has in each iteration, scales with a rollback, changes the run and resumes bit-identically", async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { generatorSchedule: 'linear' } }), /tadfkd\.generatorSchedule/);
  manualSeed(0);
  const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10, imageSize: 32 });
  const tadfkd = { warmupSteps: 1, replay: false as const, anchors: false as const, generatorSchedule: 'cosine' as const };
  const cfg = resolveConfig('ta-dfkd', 'fashion-mnist', { batchSize: 16, iterations: 4, generatorSteps: 2, generator: { width: 8, nz: 16, lr: 0.01 }, tadfkd }) as TaDfkdConfig;
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm: new Normalizer([0.5], [0.5]), numClasses: 10, channels: 1, imageSize: 32, contentSize: 28 });
  try {
    const lr = () => (method as GeneratorMethod).synth.optimizer.lr;
    method.warmup();
    assert.equal(lr(), 0.01, 'the warm-up runs at generator.lr');
    // Two generator steps per iteration: steps 0-1 in iteration 0 (factor 1), 2-3 in iteration 1 (factor (1 + cos(pi/4)) / 2).
    const seen = [0, 1, 2, 3, 4].map(() => (method.generatorStep(), lr()));
    const f = (i: number) => 0.01 * 0.5 * (1 + Math.cos((Math.PI * i) / 4));
    assert.deepEqual(seen, [f(0), f(0), f(1), f(1), f(2)]);
    method.scaleLearningRates(0.5);
    method.generatorStep();
    assert.equal(lr(), 0.5 * f(2), 'a rollback factor multiplies the scheduled rate');
    assert.equal(method.synthMeta().generatorSteps, 6, 'the step count is in checkpoints');
  } finally {
    method.dispose();
    teacher.dispose();
    student.dispose();
  }
  await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, generatorSchedule: 'cosine' } }, 'ta-gcos');
});

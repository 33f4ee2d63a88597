import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { runDistill } from '../src/distill/run';
import { methodNames, resolveConfig } from '../src/distill/config';
import * as losses from '../src/distill/losses';
import { selectBatch } from '../src/distill/selection';
import { loadTensors, sha256File } from '../src/io/weights';
import { tensor, tidy, randn, noGrad } from '../src/tensor';
import { buildModel } from '../src/models';
import { createMethod } from '../src/distill/methods';
import { Normalizer } from '../src/distill/synthesizer';
import { loadTeacher } from '../src/train/teacher';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';

const quiet = { onWarn: () => undefined };

function weightsOf(file: string): Map<string, Float32Array> {
  const { tensors } = loadTensors(file);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) {
    if (t.dtype === 'float32') out.set(k, t.toFloat32Array());
    t.dispose();
  }
  return out;
}

for (const method of methodNames()) {
  test(`${method} runs end to end, changes the student and writes a complete run directory`, async () => {
    const teacher = tinyTeacher();
    const out = path.join(tmpDir(method), 'run');
    const res = await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method, overrides: TINY, out, ...quiet });
    assert.equal(res.stopped, false);
    const s = res.summary!;
    assert.equal(s.method, method);
    assert.equal(s.iterations, 4);
    for (const f of ['config.json', 'log.jsonl', 'summary.json', 'student.safetensors', 'student.json']) {
      assert.ok(fs.existsSync(path.join(out, f)), `${f} missing from the run directory`);
    }
    assert.ok(fs.readdirSync(path.join(out, 'samples')).some((f) => f.endsWith('.png')), 'no sample grid written');
    const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.map((l) => l.iteration), [2, 4]);
    assert.ok(s.finalAccuracy >= 0 && s.finalAccuracy <= 1);
    assert.equal(s.finalAccuracy, log[1].testAccuracy);
    assert.match(s.bestOverTraining.note, /test set/);
    // The student changed: compare with an untrained student built from the same seed.
    const trained = weightsOf(path.join(out, 'student.safetensors'));
    const fresh = tidy(() => {
      const { manualSeed } = require('../src/tensor') as typeof import('../src/tensor');
      manualSeed(0);
      const m = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
      const w = m.stateDict().get('features.0.weight')!.toFloat32Array();
      m.dispose();
      return w;
    });
    assert.notDeepEqual(Array.from(trained.get('features.0.weight')!), Array.from(fresh), 'student weights did not change');
  });
}

test('the generator gets gradients through the frozen teacher; the teacher stays bit-identical', () => {
  const dir = tinyTeacher();
  const { model: teacher } = loadTeacher(dir);
  const before = new Map([...teacher.stateDict()].map(([k, t]) => [k, t.clone().keep()]));
  const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
  const cfg = resolveConfig('ta-dfkd', 'mnist', TINY);
  const norm = new Normalizer([0.1307], [0.3081]);
  const method = createMethod('ta-dfkd', { teacher, student, cfg, norm, numClasses: 10, channels: 1, imageSize: 32 });
  const gen = (method as unknown as { synth: { generator: { parameters(): import('../src/tensor').Tensor[] } } }).synth.generator;
  const g0 = gen.parameters()[0].toFloat32Array();
  method.generatorStep();
  const g1 = gen.parameters()[0].toFloat32Array();
  assert.notDeepEqual(Array.from(g0), Array.from(g1), 'generator weights did not move');
  for (let i = 0; i < 3; i++) method.studentStep();
  method.generatorStep();
  for (const [k, t] of teacher.stateDict()) {
    assert.ok(t.equal(before.get(k)!), `teacher tensor ${k} changed`);
    if (t.dtype === 'float32') assert.equal(t.grad, undefined, `teacher parameter ${k} accumulated a gradient`);
  }
  method.dispose();
  student.dispose();
  teacher.dispose();
  norm.dispose();
  for (const t of before.values()) t.dispose();
});

test('TA-DFKD calls the class-prior loss only when --class-prior is set', async () => {
  const teacher = tinyTeacher();
  const original = losses.classPrior;
  let calls = 0;
  (losses as { classPrior: typeof original }).classPrior = (t) => {
    calls += 1;
    return original(t);
  };
  try {
    await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: { ...TINY, iterations: 2 }, out: path.join(tmpDir('cp0'), 'r'), ...quiet });
    assert.equal(calls, 0, 'class prior was computed without the flag');
    await runDistill({
      teacherDir: teacher,
      studentArch: 'lenet5-half',
      method: 'ta-dfkd',
      overrides: { ...TINY, iterations: 2, weights: { classPrior: 1 } },
      out: path.join(tmpDir('cp1'), 'r'),
      ...quiet,
    });
    assert.equal(calls, 2, 'with the flag, one class-prior term per generator step');
  } finally {
    (losses as { classPrior: typeof original }).classPrior = original;
  }
});

test('selection drops deliberately corrupted samples of a constructed batch', () => {
  tidy(() => {
    // 56 confident samples (one large logit) and 8 corrupted ones (flat logits: maximal loss).
    const rows: number[][] = [];
    for (let i = 0; i < 64; i++) {
      const r = new Array(10).fill(0);
      if (i % 8 !== 3) r[i % 10] = 8 + (i % 5) * 0.3;
      rows.push(r);
    }
    const s = selectBatch(tensor(rows), { criterion: 'loss', threshold: 0.5 });
    for (let i = 0; i < 64; i++) assert.equal(s.mask[i], i % 8 === 3 ? 0 : 1, `sample ${i} wrongly ${s.mask[i] ? 'kept' : 'dropped'}`);
    assert.equal(s.kept, 56);
  });
});

test('a stopped run resumes from its checkpoint and ends bit-identical to an uninterrupted run', async () => {
  const teacher = tinyTeacher();
  const cfg = { ...TINY, iterations: 6 };
  const full = path.join(tmpDir('full'), 'r');
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: cfg, out: full, ...quiet });
  const part = path.join(tmpDir('part'), 'r');
  const first = await runDistill({
    teacherDir: teacher,
    studentArch: 'lenet5-half',
    method: 'ta-dfkd',
    overrides: cfg,
    out: part,
    shouldStop: () => true,
    afterIteration: () => undefined,
    ...quiet,
  });
  assert.equal(first.stopped, true);
  assert.equal(first.iteration, 1);
  const second = await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: cfg, out: part, resume: true, ...quiet });
  assert.equal(second.stopped, false);
  assert.equal(second.summary!.iterations, 6);
  assert.equal(sha256File(path.join(part, 'student.safetensors')), sha256File(path.join(full, 'student.safetensors')), 'resumed student differs from the uninterrupted one');
  const la = fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').split('\n').map((l) => (l ? JSON.parse(l).testAccuracy : null));
  const lb = fs.readFileSync(path.join(part, 'log.jsonl'), 'utf8').split('\n').map((l) => (l ? JSON.parse(l).testAccuracy : null));
  assert.deepEqual(lb, la);
});

test('bad configs fail with a message naming the field', async () => {
  const teacher = tinyTeacher();
  await assert.rejects(
    runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'nope', out: path.join(tmpDir('bad'), 'r'), ...quiet }),
    /unknown method 'nope' \(known: ta-dfkd, dafl/,
  );
  await assert.rejects(
    runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: { weights: { bn: -1 } }, out: path.join(tmpDir('bad'), 'r'), ...quiet }),
    /weights\.bn: Number must be greater than or equal to 0/,
  );
  await assert.rejects(
    runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: { iterationz: 3 }, out: path.join(tmpDir('bad'), 'r'), ...quiet }),
    /Unrecognized key\(s\) in object: 'iterationz'/,
  );
  await assert.rejects(
    runDistill({ teacherDir: teacher, studentArch: 'no-such-net', method: 'ta-dfkd', out: path.join(tmpDir('bad'), 'r'), ...quiet }),
    /no-such-net/,
  );
  // A teacher whose weights file no longer matches its record.
  const broken = tmpDir('broken-teacher');
  for (const f of fs.readdirSync(teacher)) fs.copyFileSync(path.join(teacher, f), path.join(broken, f));
  const w = path.join(broken, 'weights.safetensors');
  const buf = fs.readFileSync(w);
  buf[buf.length - 1] ^= 0xff;
  fs.writeFileSync(w, buf);
  await assert.rejects(
    runDistill({ teacherDir: broken, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: TINY, out: path.join(tmpDir('bad'), 'r'), ...quiet }),
    /do not match the SHA-256 in its record/,
  );
});

test('an output directory holding a different run is refused', async () => {
  const teacher = tinyTeacher();
  const out = path.join(tmpDir('diff'), 'r');
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', overrides: { ...TINY, iterations: 2 }, out, ...quiet });
  await assert.rejects(
    runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'dfad', overrides: { ...TINY, iterations: 2 }, out, ...quiet }),
    /already holds a different run/,
  );
});

void noGrad;
void randn;

test("studentLoss 'l1-centered' ignores each logit vector's offset and otherwise is the L1 of the centred logits", () => {
  const s = [0.5, -1, 2, 0.25, 3, -2];
  const t = [1, 0, -1, 4, 4, 1];
  const ref = (a: number[], b: number[]): number => {
    let sum = 0;
    for (let r = 0; r < 2; r++) {
      const row = (v: number[]): number[] => v.slice(3 * r, 3 * r + 3);
      const ma = row(a).reduce((x, y) => x + y) / 3;
      const mb = row(b).reduce((x, y) => x + y) / 3;
      for (let k = 0; k < 3; k++) sum += Math.abs(row(a)[k] - ma - (row(b)[k] - mb));
    }
    return sum / 6;
  };
  tidy(() => {
    const got = losses.l1CenteredLogits(tensor(s, [2, 3]), tensor(t, [2, 3])).item();
    assert.ok(Math.abs(got - ref(s, t)) < 1e-6, `got ${got}, expected ${ref(s, t)}`);
    // A per-row shift of the teacher's logits changes plain L1 but not the centred one.
    const shifted = t.map((v, i) => v + (i < 3 ? 5 : -7));
    assert.ok(Math.abs(losses.l1CenteredLogits(tensor(s, [2, 3]), tensor(shifted, [2, 3])).item() - got) < 1e-6);
    assert.ok(losses.l1Logits(tensor(s, [2, 3]), tensor(shifted, [2, 3])).item() > got + 1);
  });
  assert.equal(resolveConfig('ta-dfkd', 'fashion-mnist', { studentLoss: 'l1-centered' }).studentLoss, 'l1-centered');
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { studentLoss: 'l1c' }), /studentLoss/);
});

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as childProcess from 'child_process';
import { randn, manualSeed, tensor, tidy } from '../src/tensor';
import { roll2d } from '../src/distill/inversion';
import { loadTeacher } from '../src/train/teacher';
import { synthesizeProbe, probeSignals, PROBE_DEFAULTS, partnerProbs, boundaryTargets } from '../src/distill/probe';
import { runDistill } from '../src/distill/run';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';

const SHAPE = { channels: 1, imageSize: 32, numClasses: 10 };
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dfkd.js');

test('the probe is seeded, leaves the caller RNG alone, and inversion steers the teacher to the target classes', () => {
  const { model: teacher } = loadTeacher(tinyTeacher());
  manualSeed(5);
  const ref = randn([4]).toFloat32Array();
  manualSeed(5);
  // Without the default jitter, so that 30 steps on this tiny teacher reach most targets (see below for the jitter).
  const a = synthesizeProbe(teacher, SHAPE, { n: 40, steps: 30, batchSize: 20, jitter: 0 });
  assert.deepEqual(randn([4]).toFloat32Array(), ref, 'the caller RNG continues as if no probe had been made');
  const b = synthesizeProbe(teacher, SHAPE, { n: 40, steps: 30, batchSize: 20, jitter: 0 });
  assert.deepEqual(a.shape, [40, 1, 32, 32]);
  assert.deepEqual(a.toFloat32Array(), b.toFloat32Array(), 'same seed, same probe');
  const s = probeSignals(teacher, teacher, a, 10);
  assert.equal(s.probeAgreement, 1, 'a model agrees with itself');
  assert.equal(s.probeLogitDistance, 0);
  const untrained = synthesizeProbe(teacher, SHAPE, { n: 40, steps: 1, batchSize: 20, jitter: 0 });
  const hitBefore = probeSignals(teacher, teacher, untrained, 10).probeTargetHit;
  assert.ok(s.probeTargetHit > 0.5 && s.probeTargetHit > hitBefore + 0.3, `target hit after 30 steps ${s.probeTargetHit}, after 1 step ${hitBefore}`);
  for (const t of [a, b, untrained]) t.dispose();
  teacher.dispose();
});

test('roll2d wraps rows and columns around like torch.roll and sends gradients back to the source pixels', () => {
  tidy(() => {
    // One 3x4 image with values 0..11: rolled by (1, -1), output[i][j] = input[(i - 1) mod 3][(j + 1) mod 4].
    const x = tensor(Float32Array.from({ length: 12 }, (_, i) => i), [1, 1, 3, 4]).requiresGrad_(true);
    const y = roll2d(x, 1, -1);
    const want = Array.from({ length: 12 }, (_, k) => 4 * ((Math.floor(k / 4) + 2) % 3) + ((k % 4) + 1) % 4);
    assert.deepEqual([...y.toFloat32Array()], want);
    y.mul(tensor(Float32Array.from({ length: 12 }, (_, i) => i), [1, 1, 3, 4])).sum().backward();
    // d/dx[src] = the output position src went to.
    const grad = [...x.grad!.toFloat32Array()];
    want.forEach((src, k) => assert.equal(grad[src], k, `pixel ${src} went to ${k}`));
    assert.deepEqual([...roll2d(x, 3, 8).toFloat32Array()], [...x.toFloat32Array()], 'a full turn is the identity');
  });
});

test('the default probe is jittered (DeepInversion roll + flip): seeded, different from a plain one, and it still steers the teacher', () => {
  const { model: teacher } = loadTeacher(tinyTeacher());
  const o = { n: 40, steps: 30, batchSize: 20 };
  assert.deepEqual([PROBE_DEFAULTS.jitter, PROBE_DEFAULTS.flip], [2, true]);
  const plain = synthesizeProbe(teacher, SHAPE, { ...o, jitter: 0 });
  assert.deepEqual(synthesizeProbe(teacher, SHAPE, o).toFloat32Array(), synthesizeProbe(teacher, SHAPE, { ...o, jitter: 2, flip: true }).toFloat32Array());
  const a = synthesizeProbe(teacher, SHAPE, { ...o, jitter: 2, flip: true });
  const b = synthesizeProbe(teacher, SHAPE, { ...o, jitter: 2, flip: true });
  assert.deepEqual(a.toFloat32Array(), b.toFloat32Array(), 'same seed, same probe');
  assert.ok(a.toFloat32Array().some((v, i) => v !== plain.toFloat32Array()[i]), 'the jitter changes the probe');
  // The jitter makes the inversion harder (0.6 of the targets without it, 0.275 with it on this tiny
  // teacher after 30 steps), but it still steers: one step reaches 0.075.
  const oneStep = synthesizeProbe(teacher, SHAPE, { ...o, steps: 1, jitter: 2, flip: true });
  const hit = probeSignals(teacher, teacher, a, 10).probeTargetHit;
  const hitBefore = probeSignals(teacher, teacher, oneStep, 10).probeTargetHit;
  assert.ok(hit > 0.2 && hit > 2 * hitBefore, `target hit after 30 steps ${hit}, after 1 step ${hitBefore}`);
  for (const t of [plain, a, b, oneStep]) t.dispose();
  teacher.dispose();
});

test('dfkd trust scores a finished run, caches the probe in the teacher directory and reuses it', async () => {
  const teacher = tinyTeacher();
  const out = path.join(tmpDir('trust'), 'r');
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'dfad', overrides: { ...TINY, iterations: 2 }, out, onWarn: () => undefined });
  const run = (): childProcess.SpawnSyncReturns<string> =>
    childProcess.spawnSync(process.execPath, [BIN, 'trust', '--model', out, '--probe-size', '20', '--probe-steps', '3'], { encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1' } });
  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /probe trust 0\.\d{3}: the student agrees with the teacher on [\d.]+% of 20 probe images/);
  assert.match(first.stderr, /synthesising a probe set of 20 images/);
  const rec = JSON.parse(fs.readFileSync(path.join(out, 'probe-trust.json'), 'utf8'));
  assert.equal(rec.n, 20);
  assert.ok(rec.probeAgreement >= 0 && rec.probeAgreement <= 1);
  assert.equal(fs.readdirSync(teacher).filter((f) => f.startsWith('probe-')).length >= 1, true);
  const second = run();
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /synthesising/, 'the cached probe is reused');
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'probe-trust.json'), 'utf8')).probeAgreement, rec.probeAgreement);
  assert.equal(rec.probe.jitter, 2, 'the default probe is jittered');
  const plain = childProcess.spawnSync(process.execPath, [BIN, 'trust', '--model', out, '--probe-size', '20', '--probe-steps', '3', '--probe-jitter', '0'], { encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1' } });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stderr, /synthesising a probe set of 20 images/, '--probe-jitter 0 is another probe');
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'probe-trust.json'), 'utf8')).probe.jitter, 0);
  const negative = childProcess.spawnSync(process.execPath, [BIN, 'trust', '--model', out, '--probe-jitter', '-1'], { encoding: 'utf8' });
  assert.equal(negative.status, 2, 'a usage error');
  assert.match(negative.stderr, /--probe-jitter must be at least 0, got -1/);

  const bad = childProcess.spawnSync(process.execPath, [BIN, 'trust', '--model', teacher], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is not a finished distillation run \(no student\.json\)/);
});

test('boundary anchors: partners by last-layer similarity, soft two-class targets, a seeded inversion that differs from the one-hot one', () => {
  tidy(() => {
    // Rows (1,0), (1,1), (-1,0): class 0's only positive neighbour is 1 and 1's is 0; 2 has none (uniform).
    const fake = { featureLayer: { weight: tensor([1, 0, 1, 1, -1, 0], [3, 2]) } } as unknown as Parameters<typeof partnerProbs>[0];
    const p = partnerProbs(fake, 3);
    assert.deepEqual(p.map((r) => r.map((v) => Math.round(v * 1000) / 1000)), [[0, 1, 0], [1, 0, 0], [0.5, 0.5, 0]]);
    manualSeed(2);
    const y = boundaryTargets(Int32Array.from([0, 1, 2, 0, 1, 2]), 4, p).toFloat32Array();
    for (let i = 0; i < 6; i++) {
      const row = Array.from(y.subarray(i * 3, i * 3 + 3));
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row ${i} sums to 1: ${row}`);
      const a = i % 3;
      if (i >= 4) assert.deepEqual(row, [0, 1, 2].map((c) => (c === a ? 1 : 0)), `row ${i} one-hot`);
      else {
        assert.ok(row[a] >= 0.5 && row[a] < 1, `row ${i}: lambda ${row[a]} on its class`);
        const b = row.findIndex((v, c) => c !== a && v > 0);
        assert.ok(p[a][b] > 0, `row ${i}: partner ${b} has probability ${p[a][b]}`);
      }
    }
  });
  const { model: teacher } = loadTeacher(tinyTeacher());
  const o = { n: 20, steps: 5, batchSize: 20, jitter: 0 };
  const hard = synthesizeProbe(teacher, SHAPE, o).toFloat32Array();
  const soft = synthesizeProbe(teacher, SHAPE, { ...o, boundary: 0.5 }).toFloat32Array();
  assert.deepEqual(synthesizeProbe(teacher, SHAPE, { ...o, boundary: 0.5 }).toFloat32Array(), soft, 'seeded');
  assert.ok(soft.some((v, i) => v !== hard[i]), 'soft targets change the images');
  teacher.dispose();
});

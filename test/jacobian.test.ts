/**
 * tadfkd.jacobian: input-gradient (Jacobian) matching in TA-DFKD's student step. The direction and the
 * matching term on hand examples, the term through a real model, and the option in a run (it changes the
 * run, resumes exactly, logs its term).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { marginDirection, inputGradientMatch } from '../src/distill/losses';
import { withJacobianMatch } from '../src/distill/jacobian';
import { resolveConfig } from '../src/distill/config';
import { l1Logits } from '../src/distill/losses';
import { tensor, tidy, manualSeed, randn, noGrad } from '../src/tensor';
import { buildModel } from '../src/models';
import { TINY, tinyTeacher, tmpDir } from './helpers/distill-fixtures';
import { runDistill } from '../src/distill/run';
import { assertChangesRunAndResumesExactly } from './helpers/resume';

const TINY_TA = TINY.tadfkd as Record<string, unknown>;

test('marginDirection: +1 at the top class, -1 at the runner-up, 0 elsewhere', () => {
  tidy(() => {
    const t = tensor([0.1, 3, 2, -1, 5, 4.5, 0, 1, 2], [3, 3]);
    assert.deepEqual(Array.from(marginDirection(t).toFloat32Array()), [0, 1, -1, 0, 1, -1, 0, -1, 1]);
  });
});

test('inputGradientMatch: 0 for the same direction at any scale, 4 for opposite ones, 2 for orthogonal ones', () => {
  tidy(() => {
    const g = tensor([1, 2, 3, 4, 0, 1, 0, 0], [2, 1, 2, 2]);
    assert.ok(inputGradientMatch(g.mul(5), g).item() < 1e-10);
    assert.ok(Math.abs(inputGradientMatch(g.neg(), g).item() - 4) < 1e-5);
    const a = tensor([1, 0, 0, 0], [1, 4]);
    const b = tensor([0, 3, 0, 0], [1, 4]);
    assert.ok(Math.abs(inputGradientMatch(a, b).item() - 2) < 1e-5);
  });
});

test('withJacobianMatch: zero term when the student is the teacher; otherwise a term in (0, 4] whose gradient reaches the student', () => {
  tidy(() => {
    manualSeed(3);
    const teacher = buildModel('lenet5', { inChannels: 1, numClasses: 10 });
    const student = buildModel('lenet5-half', { inChannels: 1, numClasses: 10 });
    teacher.eval();
    teacher.requiresGrad_(false);
    const x = randn([16, 1, 32, 32]);
    const t = noGrad(() => teacher.call(x));
    // The teacher against itself (eval mode: no batch coupling): the two gradients are the same.
    const same = withJacobianMatch(teacher, teacher, x, t, { weight: 1, rows: 4 }, l1Logits);
    assert.ok(same.log.jacobian < 1e-8, `self-match ${same.log.jacobian}`);
    assert.ok(same.log.loss_s < 1e-6);
    // A different student: the term is positive and moves the student's first convolution.
    student.train();
    const r = withJacobianMatch(student, teacher, x, t, { weight: 1, rows: 4 }, l1Logits);
    assert.ok(r.log.jacobian > 0 && r.log.jacobian <= 4, `term ${r.log.jacobian}`);
    const plain = l1Logits(student.call(x), t);
    r.loss.backward();
    const w = [...student.parameters()][0];
    const gWith = w.grad!.toFloat32Array();
    w.zeroGrad();
    plain.backward();
    const gPlain = w.grad!.toFloat32Array();
    assert.ok(gWith.some((v, i) => Math.abs(v - gPlain[i]) > 1e-7), 'the matching term adds to the student gradient');
  });
});

test('tadfkd.jacobian is validated, changes the run, logs its term and resumes bit-identically', async () => {
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { jacobian: { weight: 0, rows: 8 } } }), /tadfkd\.jacobian\.weight/);
  assert.throws(() => resolveConfig('ta-dfkd', 'fashion-mnist', { tadfkd: { jacobian: { weight: 1, rows: 0 } } }), /tadfkd\.jacobian\.rows/);
  await assert.rejects(
    runDistill({ teacherDir: tinyTeacher('lenet5'), studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: { ...TINY, studentLoss: 'kl+at', tadfkd: { ...TINY_TA, jacobian: { weight: 1, rows: 8 } } }, out: path.join(tmpDir('jac-klat'), 'run'), onWarn: () => undefined }),
    /tadfkd\.jacobian works with studentLoss 'l1', 'l1-centered' or 'kl', got 'kl\+at'/,
  );
  const full = await assertChangesRunAndResumesExactly({ ...TINY, tadfkd: { ...TINY_TA, jacobian: { weight: 1, rows: 8 } } }, 'ta-jacobian');
  const lines = fs.readFileSync(path.join(full, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const l of lines) assert.ok(l.losses.jacobian > 0 && l.losses.jacobian <= 4, `logged term ${l.losses.jacobian}`);
});

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tinyTeacher, tmpDir } from './helpers/distill-fixtures';
import { buildModel } from '../src/models';
import { saveModule } from '../src/io/weights';
import { importTeacher } from '../src/interop/import';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dfkd.js');

function dfkd(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One clear line, a non-zero exit, and no engine/JS stack trace. */
function assertCleanFailure(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'expected a non-zero exit code');
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `stack trace in stderr:\n${r.stderr}`);
}

test('--help works on every command', () => {
  for (const cmd of ['train-teacher', 'eval', 'models', 'datasets', 'distill', 'study', 'import', 'export']) {
    const r = dfkd(cmd, '--help');
    assert.equal(r.code, 0, `${cmd} --help exited ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: dfkd ${cmd}`));
  }
});

test('dfkd models and dfkd datasets list the zoo and the readers', () => {
  const m = dfkd('models');
  assert.equal(m.code, 0);
  assert.match(m.stdout, /resnet18\s+11,173,962 params/);
  assert.match(m.stdout, /lenet5-half/);
  const d = dfkd('datasets');
  assert.equal(d.code, 0);
  assert.match(d.stdout, /fashion-mnist/);
  assert.match(d.stdout, /cifar10 .*--data-path/);
});

test('an invalid CLI argument gives one message and a non-zero exit', () => {
  assertCleanFailure(dfkd('train-teacher', '--dataset', 'mnist', '--arch', 'lenet5', '--epochs', 'three', '--out', tmpDir('x')), /--epochs must be an integer, got 'three'/);
  assertCleanFailure(dfkd('train-teacher', '--dataset', 'mnist', '--arch', 'lenet99', '--out', tmpDir('x')), /unknown model 'lenet99'|lenet99/);
  assertCleanFailure(dfkd('frobnicate'), /unknown command 'frobnicate'/);
});

test('a missing dataset path names the path and how to provide it', () => {
  const r = dfkd('train-teacher', '--dataset', 'cifar10', '--arch', 'resnet8', '--epochs', '1', '--out', tmpDir('x'));
  assertCleanFailure(r, /cifar10/i);
  assert.match(r.stderr, /--data-path/);
  const r2 = dfkd('train-teacher', '--dataset', 'fashion-mnist', '--arch', 'lenet5', '--epochs', '1', '--data-path', '/nonexistent/fm', '--out', tmpDir('x'));
  assertCleanFailure(r2, /\/nonexistent\/fm/);
});

test('truncated, corrupted and mismatched weights files each give one clear message', () => {
  const teacher = tinyTeacher();
  // Truncated weights: the record's checksum no longer matches.
  const t1 = tmpDir('trunc');
  for (const f of fs.readdirSync(teacher)) fs.copyFileSync(path.join(teacher, f), path.join(t1, f));
  const w1 = path.join(t1, 'weights.safetensors');
  fs.truncateSync(w1, fs.statSync(w1).size - 100);
  assertCleanFailure(dfkd('eval', '--model', t1), /weights\.safetensors.*(SHA-256|truncated|corrupt)/);
  // Truncated weights with the checksum removed from the record: the safetensors reader catches it.
  const rec = JSON.parse(fs.readFileSync(path.join(t1, 'teacher.json'), 'utf8'));
  delete rec.weightsSha256;
  fs.writeFileSync(path.join(t1, 'teacher.json'), JSON.stringify(rec));
  assertCleanFailure(dfkd('eval', '--model', t1), /weights\.safetensors/);
  // Wrong architecture for the weights: every mismatch in one message.
  const t2 = tmpDir('arch');
  for (const f of fs.readdirSync(teacher)) fs.copyFileSync(path.join(teacher, f), path.join(t2, f));
  const rec2 = JSON.parse(fs.readFileSync(path.join(t2, 'teacher.json'), 'utf8'));
  rec2.arch = 'lenet5-half';
  fs.writeFileSync(path.join(t2, 'teacher.json'), JSON.stringify(rec2));
  const r = dfkd('eval', '--model', t2);
  assertCleanFailure(r, /does not match LeNet5/);
  assert.match(r.stderr, /features\.0\.weight' has shape \[6,1,5,5\], expected \[3,1,5,5\]/);
  assert.match(r.stderr, /classifier\.2\.weight/);
  // A record that is not JSON.
  const t3 = tmpDir('rec');
  fs.writeFileSync(path.join(t3, 'teacher.json'), '{not json');
  assertCleanFailure(dfkd('eval', '--model', t3), /teacher\.json' is not valid JSON/);
});

test('eval of a trained teacher prints accuracy, per-class accuracy and the confusion matrix', () => {
  const r = dfkd('eval', '--model', tinyTeacher());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /accuracy \d+\.\d\d%/);
  assert.match(r.stdout, /per-class accuracy/);
  assert.match(r.stdout, /confusion matrix/);
});

test("distill notes a student of another family than the teacher's and names the family's student", () => {
  const root = tmpDir('family');
  const args = ['--teacher', tinyTeacher(), '--method', 'dafl', '--iterations', '1', '--batch-size', '8'];
  const other = dfkd('distill', ...args, '--student', 'resnet8-half', '--out', path.join(root, 'a'));
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stderr, /note: the student resnet8-half is not of the teacher's family \(lenet5\);.*Try --student lenet5-half/);
  const same = dfkd('distill', ...args, '--out', path.join(root, 'b'));
  assert.equal(same.code, 0, same.stderr);
  assert.doesNotMatch(same.stderr, /note: the student/);
});

test("distill without --student distils a ResNet teacher into the ResNet family's student", () => {
  const root = tmpDir('default-student');
  const model = buildModel('resnet8', { inChannels: 1, numClasses: 10, imageSize: 28 });
  const weights = path.join(root, 'resnet8.safetensors');
  saveModule(weights, model);
  model.dispose();
  const teacher = path.join(root, 'teacher');
  importTeacher({ arch: 'resnet8', weights, dataset: 'mnist', out: teacher, testAccuracy: false, onWarn: () => undefined });
  const out = path.join(root, 'run');
  const r = dfkd('distill', '--teacher', teacher, '--method', 'dafl', '--iterations', '1', '--batch-size', '8', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /resnet8 -> resnet8-half on mnist/);
  assert.doesNotMatch(r.stderr, /note: the student/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).student, 'resnet8-half');
});

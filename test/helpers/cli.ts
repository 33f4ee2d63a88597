/** Running the `dfkd` CLI from tests: one child process per command, with its exit code and output. */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tinyTeacher, tmpDir, TINY } from './distill-fixtures';

export const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'dfkd.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dfkd ARGS`; `timeoutMs` kills a hanging command (its code is then null). */
export function dfkd(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1', ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One clear message, the expected exit code, and no JS stack trace. */
export function assertFails(r: CliResult, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `expected exit code ${code}, got ${r.code}; stderr:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `stack trace in stderr:\n${r.stderr}`);
}

export function writeConfig(dir: string, cfg: unknown, name = 'config.in.json'): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(cfg));
  return f;
}

/** A tiny teacher, a fresh work directory holding a TINY config of `iterations`, and a run path in it. */
export function tinyRunSetup(prefix: string, iterations: number): { teacher: string; work: string; cfgFile: string; run: string } {
  const teacher = tinyTeacher();
  const work = tmpDir(prefix);
  return { teacher, work, cfgFile: writeConfig(work, { ...TINY, iterations }), run: path.join(work, 'run') };
}

/** A copy of the tiny teacher (its files only) in a fresh directory. */
export function copyTeacher(prefix: string): string {
  const src = tinyTeacher();
  const d = tmpDir(prefix);
  for (const f of fs.readdirSync(src)) if (fs.statSync(path.join(src, f)).isFile()) fs.copyFileSync(path.join(src, f), path.join(d, f));
  return d;
}

/** Rewrites a JSON record in place. */
export function editJson(file: string, edit: (rec: Record<string, unknown>) => void): void {
  const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(rec);
  fs.writeFileSync(file, JSON.stringify(rec));
}

/** A `dfkd distill` child started in the background, its output collected, and a promise of its exit code. */
export interface SpawnedDistill {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

/** Starts `dfkd distill --teacher T --config C --out RUN` without waiting for it (signal and crash tests). */
export function spawnDistill(teacher: string, cfgFile: string, run: string): SpawnedDistill {
  const child = spawn(process.execPath, [BIN, 'distill', '--teacher', teacher, '--config', cfgFile, '--out', run], { env: { ...process.env, DFKD_QUIET: '1' } });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (b: Buffer) => (out.stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out.stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}
